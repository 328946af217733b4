"""The read model from the events: one case folded again (after each event), or every case (a
rebuild, after a change to the fold or the indicators). The events table is the source of truth;
the case rows are only ever its fold."""
from fengqiao import db
from services.reporting import projection, store, tallies


def refold(tx, case_id, number, deadlines, county, now):
    """Fold the case's whole history into its row (locked: one fold at a time per case), and
    change the tallies by what the row counts for now minus what it counted for before."""
    before = store.lock_case(tx, case_id, number)
    row, clocks = projection.fold(case_id, store.events_of(tx, case_id), deadlines.policies, deadlines.calendar, county)
    running = projection.running_deadlines(clocks, deadlines.calendar, now)  # a follow-up or review may be late too
    after = store.save_row(tx, {**row, "deadlines": running, "next_due_at": projection.next_due_at(running)})
    local = deadlines.calendar.local_date
    store.add_to_tallies(tx, tallies.difference(tallies.contributions(before, local),
                                                tallies.contributions(after, local)))


def rebuild(database_url, deadlines, county, now):
    """Every case folded again from the events, each in its own transaction (the service may keep
    running: a fold of a case and its next event queue up on the case's row), then the tallies
    counted afresh from the rows. Returns how many cases."""
    pool = db.open_pool(database_url)
    try:
        with db.transaction(pool) as conn:
            cases = store.cases_in_events(conn)
        for case in cases:
            with db.transaction(pool) as conn:
                refold(conn, case["case_id"], case["number"], deadlines, county, now)
        with db.transaction(pool) as conn:
            store.build_tallies(conn, deadlines.calendar.timezone, now)
        return len(cases)
    finally:
        pool.close()
