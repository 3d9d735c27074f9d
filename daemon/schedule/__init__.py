"""Schedule: the timed jobs (retries, maintenance, pruning) and the work-hours windows that gate heavy work.

`jobs.Schedule` runs on APScheduler; `workhours` parses and answers "may heavy work run now".
"""
