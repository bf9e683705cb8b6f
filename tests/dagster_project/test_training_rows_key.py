"""The SFT run folder is keyed on the training rows only: a change to the eval or volatile
splits of the QA dataset (volatile content changed) must not retrain the adapter."""

import duckdb

from training.compile_inputs import training_data, training_rows_key


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("create schema qa")
    con.execute("create table qa.pairs (pair_id varchar, fact_id varchar, tenant varchar, "
                "split varchar, question varchar, answer varchar, superseded boolean, "
                "chunk_id varchar default 'c1', family varchar default 'template')")
    con.execute("create table qa.notes (note_id varchar, tenant varchar, text varchar, "
                "fact_id varchar default 'f1')")
    con.executemany("insert into qa.pairs values (?, ?, 'eng', ?, ?, ?, false, 'c1', "
                    "'template')", [
        ("p1", "f1", "train", "What is the port?", "8443"),
        ("p2", "f1", "eval", "Which port is it?", "8443"),
        ("p3", "f2", "volatile_eval", "Which incident is open?", "INC-4821")])
    con.execute("insert into qa.notes values ('n1', 'eng', 'The port is 8443.', 'f1')")
    return con


def _key(con) -> str:
    return training_rows_key(*training_data(con, "eng", None, None, rewrites_per_pair=1.0))


def test_eval_and_volatile_splits_do_not_change_the_key():
    con = _warehouse()
    before = _key(con)
    con.execute("update qa.pairs set answer = 'INC-4907' where pair_id = 'p3'")
    con.execute("insert into qa.pairs values ('p4', 'f1', 'eng', 'eval', 'Port?', '8443', false, "
                "'c1', 'template')")
    assert _key(con) == before


def test_training_pairs_and_notes_change_the_key():
    con = _warehouse()
    before = _key(con)
    con.execute("update qa.pairs set answer = '9443' where pair_id = 'p1'")
    changed_pair = _key(con)
    assert changed_pair != before
    con.execute("update qa.notes set text = 'The port is 9443.'")
    assert _key(con) != changed_pair


def test_duplicates_are_dropped_and_phrasings_per_fact_capped():
    con = _warehouse()
    con.executemany("insert into qa.pairs values (?, ?, 'eng', 'train', ?, ?, false, 'c1', "
                    "'template')", [
        ("p5", "f1", "What is the port?", "8443"),  # a duplicate of p1
        ("p6", "f1", "Which port does it use?", "8443"),
        ("p7", "f1", "Port number?", "8443"),
        ("p8", "f3", "Who owns it?", "Lena")])
    pairs, _ = training_data(con, "eng", None, None)
    assert sorted(p["question"] for p in pairs) == [
        "Port number?", "What is the port?", "Which port does it use?", "Who owns it?"]
    capped, _ = training_data(con, "eng", None, None, max_per_fact=2)
    assert sorted(p["fact_id"] for p in capped) == ["f1", "f1", "f3"]
    assert capped == training_data(con, "eng", None, None, max_per_fact=2)[0]  # seeded


def test_model_written_questions_are_kept_before_templates():
    con = _warehouse()
    con.executemany("insert into qa.pairs values (?, 'f1', 'eng', 'train', ?, '8443', false, "
                    "'c1', ?)", [
                        ("p5", "Which port does it use?", "template"),
                        ("p6", "Port number?", "template"),
                        ("p7", "Where do I point my client to connect?", "natural_howto")])
    for seed in range(5):
        capped, _ = training_data(con, "eng", None, None, seed=seed, max_per_fact=1)
        assert [p["question"] for p in capped] == ["Where do I point my client to connect?"]


def test_rewrites_come_from_the_trained_facts_in_the_asked_ratio():
    con = _warehouse()
    con.executemany("insert into qa.pairs values (?, ?, 'eng', 'train', ?, ?, false, 'c1', "
                    "'template')", [("p5", "f3", "Who owns it?", "Lena"),
                                    ("p6", "f3", "Owner?", "Lena")])
    con.executemany("insert into qa.notes values (?, 'eng', ?, ?)", [
        ("n2", "Lena owns it.", "f3"), ("n3", "It is owned by Lena.", "f3"),
        ("n4", "The cache holds 512 MB.", "f9")])  # f9 is not trained
    assert training_data(con, "eng", None, None)[1] == []  # no rewrites by default
    _, notes = training_data(con, "eng", None, None, rewrites_per_pair=1.0)
    assert sorted(notes) == ["It is owned by Lena.", "Lena owns it.", "The port is 8443."]
    _, two = training_data(con, "eng", None, None, rewrites_per_pair=2 / 3)
    assert len(two) == 2 and {"Lena owns it.", "The port is 8443."} == set(two)  # each fact
    assert training_data(con, "eng", None, 1, rewrites_per_pair=1.0)[1] == ["The port is 8443."]
