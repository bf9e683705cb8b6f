"""Retry policies for assets to attach (``@dg.asset(retry_policy=...)``).

NETWORK_RETRY is for steps that reach another machine (cloning a git URL, a remote teacher
LLM, object storage): such failures are mostly transient, so retry three times, after 30 s,
90 s and 210 s (Dagster's exponential backoff: delay * (2**attempt - 1)).

TRAINING_RETRY is for SFT and GRPO steps: their failures are mostly deterministic (a bad
config, out of memory), where retrying only burns the GPU, so retry once, after two minutes,
to survive a transient one (a device still held by a dying process, a full disk being cleaned).

Neither is set as a job-wide default: a failing dbt test or a blocking asset check must fail
the run at once, not three times.
"""

import dagster as dg

NETWORK_RETRY = dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL)

TRAINING_RETRY = dg.RetryPolicy(max_retries=1, delay=120)
