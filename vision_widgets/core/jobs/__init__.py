"""Jobs: work that must outlive the browser tab that asked for it, run by ``vision worker``.

A job is a row of the ``jobs`` table (``records``): what to do (``kind`` and
JSON ``params``, never a secret), on whose behalf (``actor``), how far it got
(``progress``, ``message``), and how it ended (``result`` or ``error``). The row
is the truth; the task queue (``queue``, huey) only tells a worker "job N is
ready", and a message can be lost or duplicated without harm:

* a worker *claims* a job with one conditional UPDATE and takes a lease on it
  (``lease``); a claim that matches no row means another worker has it or it is
  finished, and the message is dropped;
* while the handler runs, the worker's heartbeat extends its leases;
* the handler's effect and the "done" mark are ONE transaction that commits only
  while the lease is still this worker's, so a job's effect is applied once;
* a worker killed mid-job stops extending its lease; when it expires a
  reclaimer puts the job back in the queue, and the next claim redoes it from
  the start (``attempts`` counts the tries, ``max_attempts`` bounds them).

That is at-least-once delivery with idempotent handlers: exactly-once effects.
``workers`` records each worker's heartbeat, which the health endpoint reports.
"""
