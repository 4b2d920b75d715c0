#!/usr/bin/env python3
"""Partitions a graph written by `orrery premap --export-graph` with KaHIP or Mt-KaHyPar and writes the answer as an
orrery mapping file (system_id,node) for `orrery premap --evaluate`.

Usage: reference_partition.py GRAPH OUT.csv TOOL IMBALANCE
  TOOL: `kahip` (kaffpa, strong preset, best of 4 seeds) or `mtkahypar` (highest-quality preset, best of 8 seeds, one
        thread so that the answer is the same on every run)
  IMBALANCE: the fraction a part may weigh above the mean (0.03 for 3%), as both tools take it

The dedicated systems named in the graph's comments take the nodes after the parts, heaviest first, the way
`orrery premap` numbers them. Prints the tool, its cut and its time on stderr.
"""
import sys
import time


def read_graph(path):
    """The METIS graph format with orrery's comment lines: parts, vertex system ids, dedicated system ids."""
    parts, systems, dedicated, rows = None, None, [], []
    with open(path) as f:
        for line in f:
            if line.startswith("%"):
                words = line[1:].split()
                if words and words[0] == "parts":
                    parts = int(words[1])
                elif words and words[0] == "systems":
                    systems = words[1:]
                elif words and words[0] == "dedicated":
                    dedicated = words[1:]
                continue
            rows.append(line.split())
    if parts is None or systems is None or not rows:
        sys.exit(f"{path}: not a graph written by `orrery premap --export-graph` (no `% parts` or `% systems` line)")
    header, rows = rows[0], rows[1:]
    n = int(header[0])
    if len(rows) != n or len(systems) != n:
        sys.exit(f"{path}: the header says {n} vertices but there are {len(rows)} vertex lines and {len(systems)} ids")
    weights = [int(r[0]) for r in rows]
    xadj, adjncy = [0], []
    for r in rows:
        adjncy.extend(int(v) - 1 for v in r[1:])
        xadj.append(len(adjncy))
    return parts, systems, dedicated, weights, xadj, adjncy


def kahip_partition(parts, weights, xadj, adjncy, imbalance):
    import kahip

    best = None
    for seed in range(4):
        cut, blocks = kahip.kaffpa(weights, xadj, [1] * len(adjncy), adjncy, parts, imbalance, True, seed, kahip.STRONG)
        if best is None or cut < best[0]:
            best = (cut, blocks)
    return best


def mtkahypar_partition(parts, weights, xadj, adjncy, imbalance):
    import mtkahypar

    n = len(weights)
    edges = [(u, adjncy[i]) for u in range(n) for i in range(xadj[u], xadj[u + 1]) if u < adjncy[i]]
    # One thread: with more, the outcome changes from run to run even with a fixed seed.
    init = mtkahypar.initialize(1)
    context = init.context_from_preset(mtkahypar.PresetType.HIGHEST_QUALITY)
    context.set_partitioning_parameters(parts, imbalance, mtkahypar.Objective.CUT)
    context.logging = False
    # Keep the best of eight seeds, preferring partitions within the asked balance, then the fewest cut edges.
    # (Partitioning one graph object twice crashes mtkahypar 1.7, so each seed builds its own.)
    best = None
    for seed in range(1, 9):
        mtkahypar.set_seed(seed)
        graph = init.create_graph(context, n, len(edges), edges, weights, [1] * len(edges))
        partitioned = graph.partition(context)
        rank = (partitioned.imbalance(context) > imbalance + 1e-9, partitioned.cut())
        if best is None or rank < best[0]:
            best = (rank, partitioned.cut(), [partitioned.block_id(u) for u in range(n)])
    return best[1], best[2]


def main():
    if len(sys.argv) != 5 or sys.argv[3] not in ("kahip", "mtkahypar"):
        sys.exit(__doc__)
    graph, out, tool, imbalance = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    parts, systems, dedicated, weights, xadj, adjncy = read_graph(graph)
    started = time.monotonic()
    partition = kahip_partition if tool == "kahip" else mtkahypar_partition
    cut, blocks = partition(parts, weights, xadj, adjncy, imbalance)
    elapsed = time.monotonic() - started
    print(f"{tool}: {parts} parts at {imbalance:.4%}: cut {cut} in {elapsed:.2f} s", file=sys.stderr)
    with open(out, "w") as f:
        f.write("system_id,node\n")
        for system, block in zip(systems, blocks):
            f.write(f"{system},{block}\n")
        for offset, system in enumerate(dedicated):
            f.write(f"{system},{parts + offset}\n")


if __name__ == "__main__":
    main()
