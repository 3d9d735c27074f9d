"""GPU: the monitor thread (who else is on the card, free memory), the NVML sampler and the pure policy.

`monitor.batch_cap` is what the ML stages ask before a batch; `policy` decides when heavy work waits.
"""
