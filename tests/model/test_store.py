from hvlab.model.core.store import Store


def test_set_records_changes_and_revert_restores():
    st = Store({("a",): 1})
    st.set(("a",), 2)
    st.set(("b",), 3)
    st.set(("a",), None)
    changes = st.take()
    assert changes == ((("a",), 1, 2), (("b",), None, 3), (("a",), 2, None))
    assert st.data == {("b",): 3}
    st.revert(changes)
    assert st.data == {("a",): 1}
    st.apply(changes)
    assert st.data == {("b",): 3}


def test_setting_the_same_value_records_nothing():
    st = Store({("a",): 1})
    st.set(("a",), 1)
    st.set(("zzz",), None)
    assert st.take() == ()


def test_discard_to_rolls_back_pending_changes():
    st = Store({("a",): 1})
    st.set(("a",), 5)
    mark = len(st.pending)
    st.set(("a",), 6)
    st.set(("c",), 7)
    st.discard_to(mark)
    assert st.data == {("a",): 5}
    assert st.take() == ((("a",), 1, 5),)


def test_digest_ignores_insertion_order():
    assert Store({("a",): 1, ("b",): 2}).digest() == Store({("b",): 2, ("a",): 1}).digest()
    assert Store({("a",): 1}).digest() != Store({("a",): 2}).digest()
