"""Running render plans as background jobs (in-process threads; Ray pools live in tierflow.scale)."""

from tierflow.jobs.inprocess import Job, JobEvent, JobQueue

__all__ = ["Job", "JobEvent", "JobQueue"]
