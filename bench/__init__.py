"""The weightnoise benchmark suite: every workload of DESIGN.md §5, side by side with its peers.

Entry point: ``python bench/run.py --quick|--full|--smoke``. The modules are a
package so that run.py and its per-thread-count workers share them.
"""
