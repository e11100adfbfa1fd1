"""Pool readers, answer files and Label Studio formats: round trips and clear refusals."""

import csv
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skal.labeling import LabelingError, read_answers_csv, read_pool
from skal.labeling._answers import parse_classes, parse_labels
from skal.labeling._files import read_answers, write_batch, write_table
from skal.labeling._label_studio import labeling_config, read_export, tasks_json
from skal.labeling._records import Batch


def _write(path, text):
    path.write_text(text)
    return str(path)


# ---------------------------------------------------------------- pools
def test_npy_and_npz_pools(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "p.npy", X)
    pool = read_pool(tmp_path / "p.npy")
    np.testing.assert_array_equal(pool.X, X)
    assert pool.X.dtype == np.float32 and pool.ids == ["0", "1", "2", "3"]
    np.savez(tmp_path / "p.npz", X=X, names=np.array(["a", "b", "c", "d"]))
    pool = read_pool(tmp_path / "p.npz", id_column="names")
    assert pool.ids == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(pool.index_of(["c", "a"]), [2, 0])
    with pytest.raises(LabelingError, match="unknown id"):
        pool.index_of(["z"])
    with pytest.raises(LabelingError, match="no array 'nope'"):
        read_pool(tmp_path / "p.npz", id_column="nope")
    with pytest.raises(LabelingError, match="holds no ids"):
        read_pool(tmp_path / "p.npy", id_column="x")


def test_csv_pool_features_ids_and_display_columns(tmp_path):
    path = _write(tmp_path / "p.csv",
                  "key,text,a,b\nk1,hello,0.5,1\nk2,\"a, b\",0.25,-2e-3\nk3,,1,2\n")
    pool = read_pool(path, id_column="key")
    np.testing.assert_array_equal(pool.X, [[0.5, 1.0], [0.25, -0.002], [1.0, 2.0]])
    assert pool.ids == ["k1", "k2", "k3"]
    assert pool.feature_columns == ["a", "b"]
    assert pool.data == {"text": ["hello", "a, b", ""]}
    assert len(pool.sha256) == 64
    # Without an id column the key column is text, so display data; ids are row numbers.
    pool = read_pool(path)
    assert pool.ids == ["0", "1", "2"] and sorted(pool.data) == ["key", "text"]


@pytest.mark.parametrize("text, message", [
    ("key,a\nk1,1\nk1,2\n", "duplicate ids"),
    ("key,a\nk1,nan\nk2,2\n", "NaN or infinite"),
    ("key,a\nk1,1,3\n", "fields, the header has"),
    ("key,t\nk1,x\n", "no numeric feature column"),
    ("", "empty"),
    ("key,a\n", "no rows"),
])
def test_bad_csv_pools(tmp_path, text, message):
    with pytest.raises(LabelingError, match=message):
        read_pool(_write(tmp_path / "p.csv", text), id_column="key")


def test_unsupported_and_missing_pools(tmp_path):
    with pytest.raises(LabelingError, match="unsupported format"):
        read_pool(_write(tmp_path / "p.txt", "1 2\n"))
    with pytest.raises(LabelingError, match="does not exist"):
        read_pool(tmp_path / "none.csv")
    with pytest.raises(LabelingError, match="no id column 'id'"):
        read_pool(_write(tmp_path / "p.csv", "a,b\n1,2\n"), id_column="id")


def test_parquet_pool(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install skal[parquet])")
    frame = pd.DataFrame({"id": [10, 11], "x0": [0.5, 1.5], "x1": [2.0, 3.0], "url": ["u", "v"]})
    frame.to_parquet(tmp_path / "p.parquet")
    pool = read_pool(tmp_path / "p.parquet", id_column="id")
    assert pool.ids == ["10", "11"] and pool.data == {"url": ["u", "v"]}
    np.testing.assert_array_equal(pool.X, [[0.5, 2.0], [1.5, 3.0]])


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow":
            raise ImportError("no pyarrow")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(LabelingError, match=r"pip install 'skal\[parquet\]'"):
        read_pool(_write(tmp_path / "p.parquet", "not really parquet"))


# ---------------------------------------------------------------- classes and answers
def test_classes_and_labels():
    assert parse_classes("0, 1,2") == [0, 1, 2]
    assert parse_classes("cat,dog") == ["cat", "dog"]
    assert parse_classes(["b", "a"]) == ["b", "a"]
    assert parse_classes(None) is None
    for bad, message in (("a", "at least two"), ("a,,b", "empty"), ("a,b,a", "duplicate"),
                         ("1,01", "duplicate")):
        with pytest.raises(LabelingError, match=message):
            parse_classes(bad)
    np.testing.assert_array_equal(parse_labels(["3", 4, 5.0], "int", [3, 4, 5]), [3, 4, 5])
    assert parse_labels(["3", 4, 5.0], "int", [3, 4, 5]).dtype == np.int64
    assert parse_labels([" cat "], "str", ["cat", "dog"]).tolist() == ["cat"]
    with pytest.raises(LabelingError, match=r"labels\[1\]: label '3.5' is not one of"):
        parse_labels(["3", "3.5"], "int", [3, 4])
    with pytest.raises(LabelingError, match="'cow' is not one of"):
        parse_labels(["cow"], "str", ["cat", "dog"])
    assert parse_labels(["cow"], "str", None).tolist() == ["cow"]


def test_answer_csv_skips_blank_labels(tmp_path):
    path = _write(tmp_path / "a.csv", "index,id,text,label\n3,x,hi,cat\n4,y,yo,\n\n5,z,,dog\n")
    answers = read_answers_csv(path)
    assert list(answers) == [("x", "cat"), ("z", "dog")]
    # Pools without ids: the index column names the item.
    answers = read_answers_csv(_write(tmp_path / "b.csv", "index,label\n7,1\n"))
    assert list(answers) == [("7", "1")]
    with pytest.raises(LabelingError, match="the id is empty"):
        read_answers_csv(_write(tmp_path / "c.csv", "id,label\n,1\n"))


# ---------------------------------------------------------------- Label Studio
def test_labeling_config_is_valid_xml_with_one_choice_per_class():
    config = labeling_config(["cat", "a&b", 'say "hi"'], value="caption", kind="image")
    root = ET.fromstring(config)
    image = root.find("Image")
    assert image.get("name") == "item" and image.get("value") == "$caption"
    choices = root.find("Choices")
    assert choices.get("name") == "label" and choices.get("toName") == "item"
    assert [c.get("value") for c in choices.findall("Choice")] == ["cat", "a&b", 'say "hi"']
    with pytest.raises(LabelingError, match="class list"):
        labeling_config([])
    with pytest.raises(ValueError, match="data key"):
        labeling_config(["a", "b"], value="x\" onload=\"")


def _batch():
    return Batch(indices=np.array([4, 1]), ids=["d", "b"], data={"caption": ["four", "one"]})


def _annotation(choice, when, cancelled=False, from_name="label"):
    return {"id": 1, "was_cancelled": cancelled, "updated_at": when, "created_at": when,
            "result": [{"from_name": from_name, "to_name": "item", "type": "choices",
                        "value": {"choices": [choice]}}]}


def test_tasks_out_and_export_in_round_trip(tmp_path):
    tasks = tasks_json(_batch())
    assert tasks == [{"data": {"skal_id": "d", "skal_index": 4, "caption": "four"}},
                     {"data": {"skal_id": "b", "skal_index": 1, "caption": "one"}}]
    # What Label Studio exports after annotation: the tasks with ids, annotations added.
    exported = [
        {"id": 11, "data": tasks[0]["data"], "annotations": [
            _annotation("cat", "2024-01-01T10:00:00Z"),
            _annotation("dog", "2024-01-01T11:00:00Z"),           # the latest answer wins
            _annotation("cow", "2024-01-01T12:00:00Z", cancelled=True)]},  # skipped
        {"id": 12, "data": tasks[1]["data"], "annotations": []},    # not labeled yet
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    answers = read_answers(path)
    assert list(answers) == [("d", "dog")]
    assert answers.claimed_index == {"d": 4}
    # JSON_MIN: flat records, the choice under the Choices tag's name.
    minimal = [{"id": 11, "skal_id": "d", "skal_index": 4, "label": "cat"},
               {"id": 12, "skal_id": "b", "skal_index": 1, "label": {"choices": ["dog"]}},
               {"id": 13, "skal_id": "e", "skal_index": 5}]
    assert list(read_export(minimal)) == [("d", "cat"), ("b", "dog")]


@pytest.mark.parametrize("export, message", [
    ([{"data": {"skal_id": "d"}, "annotations": [
        {"result": [{"from_name": "label", "type": "choices",
                     "value": {"choices": ["a", "b"]}}]}]}], "expected one choice"),
    ([{"data": {"skal_id": "d"}, "annotations": [{"result": {}}]}], "'result' must be a list"),
    ([{"data": {"skal_id": "d"}, "annotations": [_annotation("a", "1")]},
      {"data": {"skal_id": "d"}, "annotations": [_annotation("a", "1")]}], "in two tasks"),
    ([{"data": {"image": "x"}, "annotations": []}], "no 'skal_id'"),
    (["task"], "must be an object"),
])
def test_bad_exports(export, message):
    with pytest.raises(LabelingError, match=message):
        read_export(export)


def test_other_from_name_is_ignored_unless_asked():
    export = [{"data": {"skal_id": "d"}, "annotations": [_annotation("a", "1", from_name="q")]}]
    assert list(read_export(export)) == []
    assert list(read_export(export, from_name="q")) == [("d", "a")]


def test_written_batch_and_table_read_back(tmp_path):
    write_batch(_batch(), tmp_path / "q.csv")
    with open(tmp_path / "q.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"index": "4", "id": "d", "caption": "four", "label": ""},
                    {"index": "1", "id": "b", "caption": "one", "label": ""}]
    write_batch(_batch(), tmp_path / "q.json", "label-studio")
    assert json.loads((tmp_path / "q.json").read_text()) == tasks_json(_batch())
    table = [{"index": 4, "id": "d", "label": 3, "clean": False, "clean_score": 0.25}]
    write_table(table, tmp_path / "t.json", list(table[0]))
    assert json.loads((tmp_path / "t.json").read_text()) == table
    write_table(table, tmp_path / "t.csv", ["id", "clean_score"])
    assert (tmp_path / "t.csv").read_text() == "id,clean_score\nd,0.25\n"
    with pytest.raises(LabelingError, match="does not exist"):
        write_table(table, tmp_path / "no" / "t.csv", ["id"])


# ---------------------------------------------------------------- varied inputs
_TEXT = st.text(alphabet=st.sampled_from(list("ab,\"' é7\t;")), min_size=1, max_size=8).filter(
    lambda t: t.strip() == t)


@settings(max_examples=40, deadline=None)
@given(pairs=st.dictionaries(_TEXT, _TEXT, min_size=1, max_size=6),
       blanks=st.lists(_TEXT, max_size=3, unique=True))
def test_answer_csv_round_trip_any_text(tmp_path_factory, pairs, blanks):
    """Ids and labels with commas, quotes and accents read back exactly; blank labels skip."""
    blanks = [b for b in blanks if b not in pairs]
    path = tmp_path_factory.mktemp("answers") / "a.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "label"])
        w.writerows(list(pairs.items()) + [(b, "") for b in blanks])
    assert list(read_answers_csv(path)) == list(pairs.items())


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 30), picks=st.lists(st.integers(0, 29), max_size=5))
def test_ids_match_as_int_float_or_text(tmp_path_factory, n, picks):
    folder = tmp_path_factory.mktemp("pool")
    np.save(folder / "p.npy", np.zeros((n, 2)))
    pool = read_pool(folder / "p.npy")
    picks = [p for p in picks if p < n]
    for form in (int, float, str, np.int64):
        np.testing.assert_array_equal(pool.index_of([form(p) for p in picks]), picks)
