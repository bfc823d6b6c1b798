"""The hint bus: "converge load balancer X" messages from the API to provider agents.

A hint carries only an id; the database is the truth, so a lost hint only delays convergence
(agents also resync on start-up and on a timer). ``inprocess`` is the default; a RabbitMQ
implementation can sit behind the same ``Bus`` protocol.
"""
