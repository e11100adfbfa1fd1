"""The labeling page (skal.labeling_page) through Flask's test client: endpoints, saved state."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("flask")

from sklearn.datasets import load_digits  # noqa: E402

from skal.labeling import LabelingSession  # noqa: E402
from skal.labeling_page import (  # noqa: E402
    UNDO_WINDOW,
    Display,
    add_label_parser,
    class_keys,
    create_app,
    format_review,
    parse_shape,
    render_pixels,
    resolve_display,
    review_summary,
    run_label,
    serve,
)
from skal.labeling_page._display import find_image  # noqa: E402

DIGITS_X, DIGITS_Y = load_digits(return_X_y=True)


@pytest.fixture
def digits_session(tmp_path):
    """A session on 150 raw digits (64 pixels each), two rounds of 20 labels."""
    np.save(tmp_path / "pool.npy", DIGITS_X[:150])
    return LabelingSession.create(tmp_path / "s.skal", tmp_path / "pool.npy",
                                  classes=list(range(10)), budget=[20, 20], random_state=0)


def _answer_round(client, wrong=()):
    """Answer every asked item of one round with the true digit (a wrong one for ``wrong``)."""
    batch = client.post("/api/query", json={}).get_json()
    answered = {}
    while batch["items"]:
        item = batch["items"][0]
        truth = int(DIGITS_Y[item["index"]])
        label = (truth + 1) % 10 if len(answered) in wrong else truth
        response = client.post("/api/answer", json={"id": item["id"], "label": label})
        assert response.status_code == 200, response.get_json()
        answered[item["id"]] = label
        batch = response.get_json()
        if not batch["items"] and batch["status"]["round_open"]:
            batch = client.post("/api/query", json={}).get_json()
    return answered


def _saved(session):
    """The state as another process reads it: {id: label}, reviewed ids, corrections."""
    s = LabelingSession.open(session.state_path)
    table = s.labels_table()
    return ({r["id"]: r["label"] for r in table}, {r["id"] for r in table if r["reviewed"]},
            s.learner.corrections_)


# ------------------------------------------------------------------ pure helpers
def test_class_keys():
    assert class_keys(list(range(10))) == [str(d) for d in range(10)]
    assert class_keys(["cat", "dog", "bird"]) == ["1", "2", "3"]
    assert class_keys(["A", "b"]) == ["a", "b"]
    assert class_keys(["a", "A"]) == ["1", "2"]  # one key would name two classes
    many = class_keys([f"c{k}" for k in range(40)])
    assert many[:11] == list("1234567890a") and many[35] == "z" and many[36:] == [None] * 4
    assert class_keys(None) is None


@given(st.lists(st.text(min_size=1, max_size=3), min_size=2, max_size=50, unique=True))
def test_class_keys_name_one_class_each(classes):
    keys = class_keys(classes)
    assert len(keys) == len(classes)
    given_keys = [k for k in keys if k is not None]
    assert len(set(given_keys)) == len(given_keys)  # a key never names two classes
    assert all(len(k) == 1 and k == k.lower() for k in given_keys)
    assert keys.count(None) == max(0, len(classes) - 36) or \
        keys == [c.lower() for c in classes]


def test_parse_shape():
    assert parse_shape("8x8") == (8, 8)
    assert parse_shape("4X5x3") == (4, 5, 3)
    assert parse_shape(None) is None
    for bad in ("8", "8x", "0x8", "2x2x2", "axb", "1x2x3x4"):
        with pytest.raises(ValueError, match="shape must be"):
            parse_shape(bad)


def test_resolve_display(tmp_path):
    pool = SimpleNamespace(X=np.zeros((3, 64)), data={})
    assert resolve_display(pool) == Display("pixels", shape=(8, 8))
    assert resolve_display(pool, shape="4x16") == Display("pixels", shape=(4, 16))
    assert resolve_display(SimpleNamespace(X=np.zeros((3, 10)), data={})).kind == "none"
    texts = SimpleNamespace(X=np.zeros((3, 64)), data={"text": ["a", "b", "c"]})
    assert resolve_display(texts).kind == "columns"
    assert resolve_display(texts, text_column="text") == Display("text", text_column="text")
    assert resolve_display(texts, images=str(tmp_path)) == Display("images", images=str(tmp_path))
    with pytest.raises(ValueError, match="text_column 'caption'.*'text'"):
        resolve_display(texts, text_column="caption")
    with pytest.raises(ValueError, match="images folder"):
        resolve_display(pool, images=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="shape 3x3 holds 9 values.*64 features"):
        resolve_display(pool, shape="3x3")


def test_render_pixels_is_ink_on_paper():
    from matplotlib.image import imread

    row = np.arange(16, dtype=float)  # 0 (paper) ... 15 (ink)
    image = imread(io.BytesIO(render_pixels(row, (4, 4))))
    assert image.shape[:2] == (4, 4)
    grey = image[..., 0]
    assert grey[0, 0] == pytest.approx(1.0) and grey[3, 3] == pytest.approx(0.0)
    assert np.all(np.diff(grey.ravel()) <= 0)  # darker as the value grows
    assert imread(io.BytesIO(render_pixels(np.ones(4), (2, 2))))[..., 0].max() == 1.0  # flat row


def test_find_image_stays_in_the_folder(tmp_path):
    (tmp_path / "a.png").write_bytes(b"png")
    (tmp_path / "b.jpg").write_bytes(b"jpg")
    display = Display("images", images=str(tmp_path))
    assert find_image(display, "a") == str(tmp_path / "a.png")
    assert find_image(display, "b") == str(tmp_path / "b.jpg")
    assert find_image(display, "a.png") == str(tmp_path / "a.png")
    for bad in ("c", "..", "../a", "x/a", ""):
        assert find_image(display, bad) is None


def test_review_summary_by_hand():
    # 10 labels; position 1 doubted and unreviewed; three reviewed: index 12
    # changed 1 -> 2, index 13 kept (3 -> 3), index 14 changed 4 -> 5 and back.
    learner = SimpleNamespace(
        labeled_idx_=np.arange(10, 20), labels_=np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        clean_mask_=np.array([1, 0, 1, 1, 1, 1, 1, 1, 1, 1], dtype=bool),
        reviewed_=np.array([0, 0, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool),
        corrections_=[{"index": 12, "old": 1, "new": 2, "changed": True},
                      {"index": 13, "old": 3, "new": 3, "changed": False},
                      {"index": 14, "old": 4, "new": 5, "changed": True},
                      {"index": 14, "old": 5, "new": 4, "changed": True}])
    session = SimpleNamespace(learner=learner, status=lambda: {"n_labeled": 10})
    summary = review_summary(session)
    assert summary == {"n_labeled": 10, "n_flagged": 1, "n_reviewed": 3, "n_kept": 2,
                       "n_changed": 1, "noise_rate_before_review": 0.4,
                       "noise_rate_after_review": 0.2, "flag_precision": pytest.approx(1 / 3)}
    assert format_review(summary) == (
        "annotator noise rate: 40.0% estimated by the filter before review, 20.0% after "
        "review (3 reviewed: 2 kept, 1 changed; 1 doubted and not reviewed)")
    empty = review_summary(SimpleNamespace(learner=None, status=lambda: {"n_labeled": 0}))
    assert empty["noise_rate_before_review"] is None and empty["flag_precision"] is None
    assert format_review(empty) == "annotator noise rate: n/a (no label yet)"


# ------------------------------------------------------------------ the app
def test_page_and_config(digits_session):
    client = create_app(digits_session).test_client()
    html = client.get("/").get_data(as_text=True)
    config = json.loads(html.split('type="application/json">')[1].split("</script>")[0])
    assert config == {"state": "s.skal", "classes": list(range(10)),
                      "keys": [str(d) for d in range(10)], "display": "pixels",
                      "undo_window": UNDO_WINDOW}
    for asset in ("/static/page.js", "/static/page.css"):
        assert client.get(asset).status_code == 200


def test_batch_query_answer_are_saved_at_once(digits_session):
    client = create_app(digits_session).test_client()
    before = client.get("/api/batch").get_json()
    assert before["items"] == [] and before["status"]["n_labeled"] == 0
    batch = client.post("/api/query", json={}).get_json()
    asked = LabelingSession.open(digits_session.state_path).asked()
    assert [it["id"] for it in batch["items"]] == asked.ids and len(asked) > 0
    first = batch["items"][0]
    assert first["image"] == f"api/image/{first['index']}" and first["text"] is None
    label = int(DIGITS_Y[first["index"]])
    after = client.post("/api/answer", json={"id": first["id"], "label": label}).get_json()
    assert after["taught"] == 1 and after["status"]["n_labeled"] == 1
    assert [it["id"] for it in after["items"]] == asked.ids[1:]
    assert after["recent"] == [{**first, "label": label}]
    labels, reviewed, corrections = _saved(digits_session)  # on disk, in a new session
    assert labels == {first["id"]: label} and reviewed == set() and corrections == []
    # The same answer twice (a double click) changes nothing; a different one is refused.
    again = client.post("/api/answer", json={"id": first["id"], "label": label}).get_json()
    assert again["taught"] == 0
    refused = client.post("/api/answer", json={"id": first["id"], "label": (label + 1) % 10})
    assert refused.status_code == 400 and "relabel" in refused.get_json()["error"]


def test_image_endpoint_renders_the_row(digits_session):
    from matplotlib.image import imread

    client = create_app(digits_session).test_client()
    response = client.get("/api/image/7")
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = imread(io.BytesIO(response.data))[..., 0]
    row = DIGITS_X[7].reshape(8, 8)
    # Ink (high values) is dark: the darkest pixel is where the row peaks.
    assert np.unravel_index(image.argmin(), image.shape) in \
        set(zip(*np.nonzero(row == row.max())))
    assert client.get("/api/image/150").status_code == 404


@pytest.mark.parametrize("body, status, text", [
    ({"id": "99999", "label": 1}, 400, "unknown id"),
    ({"id": "0", "label": 12}, 400, "12"),
    ({"label": 1}, 400, "lacks ['id']"),
    ([1, 2], 400, "JSON object"),
])
def test_bad_answers_are_refused_and_change_nothing(digits_session, body, status, text):
    client = create_app(digits_session).test_client()
    client.post("/api/query", json={})
    saved = open(digits_session.state_path, "rb").read()
    response = client.post("/api/answer", json=body)
    assert response.status_code == status and text in response.get_json()["error"]
    assert open(digits_session.state_path, "rb").read() == saved


def test_posts_need_json_from_the_same_origin(digits_session):
    client = create_app(digits_session).test_client()
    client.post("/api/query", json={})
    saved = open(digits_session.state_path, "rb").read()
    item = client.get("/api/batch").get_json()["items"][0]
    form = client.post("/api/answer", data={"id": item["id"], "label": "1"})
    assert form.status_code == 415
    foreign = client.post("/api/answer", json={"id": item["id"], "label": 1},
                          headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "cross-origin" in foreign.get_json()["error"]
    same = client.post("/api/answer", json={"id": item["id"], "label": 1},
                       headers={"Origin": "http://localhost"})
    assert same.status_code == 200
    assert open(digits_session.state_path, "rb").read() != saved


def test_undo_changes_a_recent_answer_by_relabel(digits_session):
    client = create_app(digits_session).test_client()
    client.post("/api/query", json={})
    answered = []
    for _ in range(UNDO_WINDOW + 1):
        item = client.get("/api/batch").get_json()["items"][0]
        client.post("/api/answer", json={"id": item["id"], "label": 3})
        answered.append(item["id"])
    recent = client.get("/api/batch").get_json()["recent"]
    assert [r["id"] for r in recent] == answered[::-1][:UNDO_WINDOW]
    same = client.post("/api/undo", json={"id": answered[-1], "label": "3"}).get_json()
    assert same["changed"] is False and _saved(digits_session)[2] == []
    changed = client.post("/api/undo", json={"id": answered[-1], "label": 4}).get_json()
    assert changed["changed"] is True and changed["recent"][0]["label"] == 4
    labels, reviewed, corrections = _saved(digits_session)
    assert labels[answered[-1]] == 4 and reviewed == {answered[-1]}
    assert [(c["index"], c["old"], c["new"], c["changed"]) for c in corrections] == \
        [(int(answered[-1]), 3, 4, True)]
    old = client.post("/api/undo", json={"id": answered[0], "label": 4})
    assert old.status_code == 400 and "last 5 answers" in old.get_json()["error"]


def test_review_orders_by_clean_score_and_records_kept_or_changed(digits_session):
    client = create_app(digits_session).test_client()
    answered = _answer_round(client, wrong={0, 1, 2, 3})
    review = client.get("/api/review?k=3").get_json()
    expected = LabelingSession.open(digits_session.state_path).flagged()
    assert [r["id"] for r in review["items"]] == [r["id"] for r in expected] and expected
    scores = [r["clean_score"] for r in review["items"]]
    assert scores == sorted(scores)
    first = review["items"][0]
    near = LabelingSession.open(digits_session.state_path).neighbours(first["id"], 3)
    assert [(n["id"], n["label"]) for n in first["neighbours"]] == \
        [(n["id"], n["label"]) for n in near]
    assert first["neighbours"][0]["image"] == f"api/image/{first['neighbours'][0]['index']}"
    before = review["review"]
    assert before["noise_rate_before_review"] == pytest.approx(len(expected) / len(answered))
    # Correct the first doubted label to the truth (or keep it when it is right).
    truth = int(DIGITS_Y[first["index"]])
    done = client.post("/api/relabel", json={"id": first["id"], "label": truth}).get_json()
    assert done["old"] == answered[first["id"]] and done["new"] == truth
    assert done["kept"] is (truth == answered[first["id"]])
    labels, reviewed, corrections = _saved(digits_session)
    assert labels[first["id"]] == truth and reviewed == {first["id"]}
    assert corrections[-1]["changed"] is not done["kept"]
    after = client.get("/api/review").get_json()
    assert first["id"] not in [r["id"] for r in after["items"]]  # reviewed: believed
    assert after["reviewed"][0]["id"] == first["id"] and after["reviewed"][0]["kept"] is done["kept"]
    summary = after["review"]
    assert summary["n_reviewed"] == 1 and summary["n_changed"] == int(not done["kept"])
    # Keeping a label records a review that changed nothing.
    if after["items"]:
        second = after["items"][0]
        kept = client.post("/api/relabel", json={"id": second["id"], "label": second["label"]})
        assert kept.get_json()["kept"] is True
        assert _saved(digits_session)[2][-1]["changed"] is False
    unlabeled = next(i for i in map(str, range(150)) if i not in answered)
    refused = client.post("/api/relabel", json={"id": unlabeled, "label": 1})
    assert refused.status_code == 400 and "no label yet" in refused.get_json()["error"]
    assert client.get("/api/review?limit=0").status_code == 400


def test_page_follows_changes_made_by_another_process(digits_session):
    client = create_app(digits_session).test_client()
    item = client.post("/api/query", json={}).get_json()["items"][0]
    other = LabelingSession.open(digits_session.state_path)  # e.g. `skal teach` meanwhile
    other.teach([item["id"]], [5])
    batch = client.get("/api/batch").get_json()
    assert batch["status"]["n_labeled"] == 1 and batch["recent"][0]["id"] == item["id"]
    nxt = batch["items"][0]
    assert client.post("/api/answer", json={"id": nxt["id"], "label": 5}).status_code == 200
    assert set(_saved(digits_session)[0]) == {item["id"], nxt["id"]}


def test_images_folder_and_text_column(tmp_path):
    rows = ["id,f1,f2,caption"] + [f"item{k},{k % 3},{k % 5},caption number {k}"
                                  for k in range(30)]
    (tmp_path / "pool.csv").write_text("\n".join(rows) + "\n")
    session = LabelingSession.create(tmp_path / "s.skal", tmp_path / "pool.csv", id_column="id",
                                     classes="yes,no", budget=4, strategy="random",
                                     random_state=0)
    text_app = create_app(session, resolve_display(session.pool, text_column="caption"))
    item = text_app.test_client().post("/api/query", json={}).get_json()["items"][0]
    assert item["text"] == f"caption number {item['id'][4:]}" and item["image"] is None
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / f"{item['id']}.png").write_bytes(b"\x89PNG fake")
    client = create_app(session, resolve_display(session.pool, images=str(tmp_path / "img"))) \
        .test_client()
    view = client.get("/api/batch").get_json()["items"][0]
    assert view["image"] == f"api/image/{item['index']}"
    assert client.get(view["image"]).data == b"\x89PNG fake"
    missing = next(k for k in range(30) if k != item["index"])
    assert client.get(f"/api/image/{missing}").status_code == 404
    answered = client.post("/api/answer", json={"id": item["id"], "label": "yes"}).get_json()
    assert answered["recent"][0]["label"] == "yes"


def test_batch_payload_does_not_grow_with_the_pool(tmp_path):
    sizes = []
    for n in (200, 20000):
        rng = np.random.default_rng(0)
        np.save(tmp_path / f"pool{n}.npy", rng.random((n, 64)))
        session = LabelingSession.create(tmp_path / f"s{n}.skal", tmp_path / f"pool{n}.npy",
                                         classes=list(range(10)), budget=10, strategy="random",
                                         random_state=0)
        client = create_app(session).test_client()
        client.post("/api/query", json={})
        body = client.get("/api/batch").get_data()
        assert len(json.loads(body)["items"]) == 10
        sizes.append(len(body))
    # Only the ids' digits and the pool size in the status differ.
    assert abs(sizes[1] - sizes[0]) < 100


# ------------------------------------------------------------------ command line
def _parser():
    import argparse

    parser = argparse.ArgumentParser(prog="skal")
    add_label_parser(parser.add_subparsers(dest="command"))
    return parser


def test_label_command_options():
    args = _parser().parse_args(["label", "s.skal"])
    assert (args.host, args.port, args.images, args.text_column, args.shape,
            args.no_browser) == ("127.0.0.1", 8765, None, None, None, False)
    assert args.run is run_label
    with pytest.raises(SystemExit):
        _parser().parse_args(["label", "s.skal", "--port", "70000"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["label", "s.skal", "--images", "d", "--text-column", "c"])


def test_label_command_errors(digits_session, tmp_path, capsys):
    def run(*argv):
        return run_label(_parser().parse_args(["label", *argv, "--no-browser"]))

    assert run(str(tmp_path / "missing.skal")) == 1
    assert "does not exist" in capsys.readouterr().err
    assert run(digits_session.state_path, "--shape", "3x3") == 2
    assert "--shape 3x3 holds 9 values" in capsys.readouterr().err
    assert run(digits_session.state_path, "--shape", "nope") == 2
    assert run(digits_session.state_path, "--text-column", "caption") == 2
    assert "--text-column 'caption'" in capsys.readouterr().err
    assert run(digits_session.state_path, "--images", str(tmp_path / "none")) == 2


def test_serve_on_a_free_port(digits_session):
    stop, urls = threading.Event(), []
    ready = threading.Event()
    app = create_app(digits_session)
    thread = threading.Thread(target=serve, args=(app, "127.0.0.1", 0), daemon=True,
                              kwargs={"on_ready": lambda u: (urls.append(u), ready.set()),
                                      "stop": stop})
    thread.start()
    assert ready.wait(10)
    try:
        with urllib.request.urlopen(urls[0] + "api/batch", timeout=10) as response:
            assert json.load(response)["status"]["n_pool"] == 150
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


@pytest.mark.slow  # a fresh interpreter imports skal (torch): ~10 s on the shared machine
def test_label_command_serves_until_ctrl_c(digits_session):
    import re
    import signal
    import subprocess
    import sys

    # `skal label` as skal's main will run it: parse, then args.run(args). Ctrl-C as in a
    # terminal: a background job of a non-interactive shell (`pytest ... &`) starts with
    # SIGINT ignored, and a child would inherit that and never see the signal.
    code = ("import argparse, signal, sys; "
            "signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from skal.labeling_page import add_label_parser; "
            "p = argparse.ArgumentParser(prog='skal'); "
            "add_label_parser(p.add_subparsers(dest='command')); "
            "a = p.parse_args(sys.argv[1:]); sys.exit(a.run(a))")
    proc = subprocess.Popen([sys.executable, "-c", code, "label", digits_session.state_path,
                             "--port", "0", "--no-browser"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+/) ", line)
        assert url, (line, proc.stderr.read() if proc.poll() is not None else "")
        with urllib.request.urlopen(url.group(1) + "api/batch", timeout=10) as response:
            assert json.load(response)["status"]["n_labeled"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
