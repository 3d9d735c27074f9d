"""Where the heavy stages run: the engine's own worker threads (daemon/pipeline/workers.py) or a Ray cluster.

The stage code is the same for both; an executor only moves work items to the stages and outcomes back to the store.
"""
