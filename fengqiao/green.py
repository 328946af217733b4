"""Make the process cooperative under eventlet. Call `patch()` before anything else imports
sockets, threads or psycopg."""


def patch():
    import eventlet

    eventlet.monkey_patch()
    import psycopg.waiting

    # psycopg's C wait blocks the whole hub (ENGINEERING pitfall 1): wait with a green select.
    psycopg.waiting.wait = psycopg.waiting.wait_select
