//! When orders expire: a min-heap of `(expiry, order)` with lazy deletion. An order that leaves the book early
//! (filled or cancelled) is not looked for in the heap — that would cost a search per cancel and per fill; its
//! entry stays until it comes due and is then skipped, or until the heap is rebuilt from the open orders once
//! stale entries outnumber them (amortised O(1) per order; the heap holds at most about twice the open orders).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::ids::OrderId;

#[derive(Debug, Clone, Default)]
pub(crate) struct ExpiryQueue {
    heap: BinaryHeap<Reverse<(u64, OrderId)>>,
}

impl ExpiryQueue {
    pub(crate) fn push(&mut self, expires_at: u64, order: OrderId) {
        self.heap.push(Reverse((expires_at, order)));
    }

    /// Takes the earliest entry due at `now` (expiry ≤ now), in order of expiry and then id. It may name an order
    /// that has already left the book: the caller skips those.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<(u64, OrderId)> {
        match self.heap.peek() {
            Some(Reverse((expires_at, _))) if *expires_at <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }

    /// Whether stale entries outnumber the `open` orders enough to rebuild.
    pub(crate) fn wants_rebuild(&self, open: usize) -> bool {
        self.heap.len() > 2 * open + 1_024
    }

    /// Replaces the entries with those of the open orders.
    pub(crate) fn rebuild(&mut self, open: impl Iterator<Item = (u64, OrderId)>) {
        self.heap = open.map(Reverse).collect();
    }

    fn sorted(&self) -> Vec<(u64, OrderId)> {
        let mut entries: Vec<(u64, OrderId)> = self.heap.iter().map(|Reverse(e)| *e).collect();
        entries.sort_unstable();
        entries
    }
}

/// Two queues are equal when they hold the same entries, however the heaps are laid out.
impl PartialEq for ExpiryQueue {
    fn eq(&self, other: &Self) -> bool {
        self.sorted() == other.sorted()
    }
}

impl Eq for ExpiryQueue {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_due_in_order_of_expiry_then_id() {
        let mut queue = ExpiryQueue::default();
        for (at, id) in [(30, 1), (10, 5), (10, 2), (20, 3)] {
            queue.push(at, OrderId(id));
        }
        assert_eq!(queue.pop_due(9), None);
        let due: Vec<(u64, OrderId)> = std::iter::from_fn(|| queue.pop_due(20)).collect();
        assert_eq!(due, vec![(10, OrderId(2)), (10, OrderId(5)), (20, OrderId(3))]);
        queue.rebuild([(40, OrderId(7))].into_iter());
        assert_eq!(queue.pop_due(100), Some((40, OrderId(7))));
        assert!(!queue.wants_rebuild(0));
    }
}
