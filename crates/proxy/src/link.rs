//! A session's link to the rest of the proxy: the frames queued for its client (deltas from rooms, answers,
//! notices) and the control messages for its task (from the proxy inbox and cluster broadcasts).
//!
//! One small shared struct per session rather than two channels: a channel allocates its first block of slots
//! up front, this allocates nothing while both queues are empty — which is what an idle client's are. Its
//! memory is one allocation of about 200 bytes per session, and the queues grow only while something is
//! waiting to be sent.
//!
//! The frame queue is bounded and never blocks the sender: when it is full the client has stopped reading,
//! and the session is dropped rather than letting its backlog grow without bound.
//!
//! Wake-ups go through two [`Notify`]s, one for the writer and one for the session task. `notify_one` leaves a
//! permit when nobody waits, so a push between a waiter's check of the queue and its next wait is not lost;
//! waiters always look at the queue again after waking, so a permit used up by a dropped `Notified` loses
//! nothing either.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::session::Control;

/// What the queues hold and whether they are still open.
struct State {
    frames: VecDeque<Bytes>,
    controls: VecDeque<Control>,
    capacity: usize,
    /// The frame queue was full: the client does not read. The session closes the connection.
    overflowed: bool,
    /// The session ended: pushes are refused; the writer sends what is queued, then closes the connection.
    closed: bool,
}

/// One session's link; cloned (as an `Arc`) into the rooms the session is in and into the session table.
pub struct Link {
    state: Mutex<State>,
    /// Who sends the queued frames, and so is woken when frames arrive.
    sender: Sender,
    writer: Notify,
    session: Notify,
}

/// Which task writes a session's frames to its socket.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sender {
    /// The session task itself (TCP: non-blocking writes); frames wake it like control messages do.
    Session,
    /// A writer task of its own (WebSocket), waiting in [`Link::frames_queued`].
    Writer,
}

/// What the writer finds when it looks at the frame queue.
pub enum Batch {
    /// Frames to send, in order.
    Frames(VecDeque<Bytes>),
    /// Nothing queued; wait for [`Link::frames_queued`].
    Empty,
    /// The session ended and everything queued has been taken: close the connection.
    Closed,
}

impl Link {
    /// A link whose frame queue holds at most `capacity` frames (at least one), sent by `sender`.
    pub fn new(capacity: usize, sender: Sender) -> Arc<Link> {
        Arc::new(Link {
            sender,
            state: Mutex::new(State {
                frames: VecDeque::new(),
                controls: VecDeque::new(),
                capacity: capacity.max(1),
                overflowed: false,
                closed: false,
            }),
            writer: Notify::new(),
            session: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Queue a frame for the client (TCP-framed: the WebSocket writer strips the length prefix). False if the
    /// session is gone or has just been found too slow.
    pub fn push(&self, frame: Bytes) -> bool {
        let mut state = self.lock();
        if state.closed || state.overflowed {
            return false;
        }
        if state.frames.len() >= state.capacity {
            state.overflowed = true;
            drop(state);
            self.session.notify_one();
            return false;
        }
        let was_empty = state.frames.is_empty();
        state.frames.push_back(frame);
        drop(state);
        // The sender is only waiting when the queue was empty; otherwise it will find this frame anyway.
        if was_empty {
            self.wake_sender();
        }
        true
    }

    fn wake_sender(&self) {
        match self.sender {
            Sender::Session => self.session.notify_one(),
            Sender::Writer => self.writer.notify_one(),
        }
    }

    /// Everything queued for the sender, or why there is nothing.
    pub fn take_frames(&self) -> Batch {
        let mut state = self.lock();
        if !state.frames.is_empty() {
            return Batch::Frames(std::mem::take(&mut state.frames));
        }
        if state.closed { Batch::Closed } else { Batch::Empty }
    }

    /// Resolves after frames were queued (or the link closed) since the last call.
    pub async fn frames_queued(&self) {
        self.writer.notified().await;
    }

    /// Pass a control message to the session task; gives it back if the session has ended.
    pub fn control(&self, control: Control) -> Result<(), Control> {
        let mut state = self.lock();
        if state.closed {
            return Err(control);
        }
        state.controls.push_back(control);
        drop(state);
        self.session.notify_one();
        Ok(())
    }

    /// The next control message for the session task.
    pub fn next_control(&self) -> Option<Control> {
        let mut state = self.lock();
        let control = state.controls.pop_front();
        if state.controls.is_empty() && state.controls.capacity() > 0 {
            // Give the memory back: control messages are rare.
            state.controls = VecDeque::new();
        }
        control
    }

    /// True once the frame queue has overflowed (the client does not read).
    pub fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Resolves after a control message arrived or the queue overflowed since the last call — or, when the
    /// session task is the sender, after frames were queued.
    pub async fn session_woken(&self) {
        self.session.notified().await;
    }

    /// The session ended: refuse further pushes, let the writer send what is queued and close the connection.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.controls.clear();
        drop(state);
        self.wake_sender();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(batch: Batch) -> Vec<Bytes> {
        match batch {
            Batch::Frames(frames) => frames.into(),
            Batch::Empty => vec![],
            Batch::Closed => panic!("closed"),
        }
    }

    #[test]
    fn frames_come_out_in_order_and_the_queue_is_bounded() {
        let link = Link::new(2, Sender::Writer);
        assert!(link.push(Bytes::from_static(b"a")));
        assert!(link.push(Bytes::from_static(b"b")));
        assert!(!link.overflowed());
        assert!(!link.push(Bytes::from_static(b"c")), "a third frame overflows a queue of two");
        assert!(link.overflowed());
        assert!(!link.push(Bytes::from_static(b"d")), "an overflowed link takes nothing more");
        assert_eq!(frames(link.take_frames()), vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
    }

    #[test]
    fn a_closed_link_hands_out_what_is_queued_then_says_closed() {
        let link = Link::new(8, Sender::Writer);
        assert!(link.push(Bytes::from_static(b"bye")));
        link.close();
        assert!(!link.push(Bytes::from_static(b"late")));
        assert_eq!(frames(link.take_frames()), vec![Bytes::from_static(b"bye")]);
        assert!(matches!(link.take_frames(), Batch::Closed));
    }

    #[test]
    fn controls_are_queued_until_the_session_takes_them() {
        let link = Link::new(1, Sender::Writer);
        assert!(link.control(Control::Notice("one".into())).is_ok());
        assert!(link.control(Control::Notice("two".into())).is_ok());
        assert!(matches!(link.next_control(), Some(Control::Notice(text)) if text == "one"));
        assert!(matches!(link.next_control(), Some(Control::Notice(text)) if text == "two"));
        assert!(link.next_control().is_none());
        link.close();
        assert!(link.control(Control::Notice("after the end".into())).is_err());
        assert!(link.next_control().is_none());
    }

    #[tokio::test]
    async fn a_push_before_the_wait_is_not_lost() {
        let link = Link::new(4, Sender::Writer);
        assert!(link.push(Bytes::from_static(b"x")));
        // The permit left by the push wakes the writer at once.
        tokio::time::timeout(std::time::Duration::from_secs(1), link.frames_queued())
            .await
            .expect("the writer is woken by a push that came first");
        assert!(link.control(Control::Notice("n".into())).is_ok());
        tokio::time::timeout(std::time::Duration::from_secs(1), link.session_woken())
            .await
            .expect("the session is woken by a control message that came first");
    }

    #[tokio::test]
    async fn frames_wake_the_session_task_when_it_sends_them() {
        let link = Link::new(4, Sender::Session);
        assert!(link.push(Bytes::from_static(b"x")));
        tokio::time::timeout(std::time::Duration::from_secs(1), link.session_woken())
            .await
            .expect("a frame wakes the session task that writes it");
    }
}
