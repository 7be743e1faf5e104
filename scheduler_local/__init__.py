"""The local backend and server (not in the Lambda package): SQLite stores and delivery queue, the
engine that drives the delivery runner in-process, the WSGI adapter, waitress, and `scheduler serve`."""
