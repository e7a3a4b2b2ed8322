"""`make bench`: the performance shape of DESIGN §6, measured as ratios within one run.

Every figure divides what scripts-es does by what the bare database does on the same server in the
same run, so the noise of a shared machine mostly cancels out. `python -m bench --quick` is the
short run; `python -m bench.profile` collects the profiles and plans behind BENCHMARKS.md.
"""
