"""The group handlers' wake schedule (drivers/sig/wake.py): a line runs when its latest
deadline comes, once, and not for a deadline it has moved away from."""
from hypothesis import given, strategies as st

from drivers.sig.wake import WakeSchedule


@given(st.lists(st.tuples(st.integers(0, 4), st.one_of(st.none(), st.integers(0, 50))),
                max_size=60), st.lists(st.integers(0, 60), max_size=20))
def test_due_gives_each_line_at_its_latest_deadline(sets, polls):
    """Against a plain model: the latest deadline set per line (None clears it); a poll
    returns the lines whose deadline has come and takes them off."""
    sched, model = WakeSchedule(), {}
    polls = sorted(polls)
    i = 0
    for n, when in sets:
        sched.set(n, None if when is None else float(when))
        if when is None:
            model.pop(n, None)
        else:
            model[n] = float(when)
        if i < len(polls):
            now = polls[i]
            i += 1
            want = {k for k, w in model.items() if w <= now}
            for k in want:
                del model[k]
            # due_by (the quiet tick's test) may say yes for an entry left behind, never no
            # for a line that is due
            assert sched.due_by(float(now)) or not want
            assert sched.due(float(now)) == want
    assert sched.due(1e9) == set(model)
