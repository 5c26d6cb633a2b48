"""The HTML pages (emotion_vectors/render/templates/, jinja2 with autoescaping), on hand-made
inputs whose text needs escaping: every page is one document, the text a run brings (model,
emotion and corpus names, tokens, replies) arrives escaped, in the text and in attribute
values alike, and the pages say what they said before they were templates."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

import emotion_vectors.render.traces as traces
from emotion_vectors.render import html_page
from emotion_vectors.render.generalisation import table_html
from emotion_vectors.render.lens import write_summary_html
from emotion_vectors.render.report import comparison_html
from emotion_vectors.render.steering import generations_html

BAD = "<b>&\"'"
# How jinja2 escapes BAD; pandas' to_html (escape=True) leaves the quotes as they are.
ESCAPED = "&lt;b&gt;&amp;&#34;&#39;"
PANDAS_ESCAPED = "&lt;b&gt;&amp;\"'"


def one_document(page: str, title: str) -> str:
    """Check `page` is one HTML document titled `title` (escaped as jinja2 escapes) with
    nothing of BAD unescaped; return it with whitespace runs made single spaces and none
    between tags (the templates' line breaks)."""
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    for part in ("<!DOCTYPE html>", "<html>", "</html>", "<head>", "<body>", "</body>"):
        assert page.count(part) == 1, part
    assert f"<title>{title}</title>" in page
    assert BAD not in page and "<b>&" not in page
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", page))


class Attributes(HTMLParser):
    """The attributes of every start tag, entities decoded, as (tag, {name: value})."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_the_page_shell_escapes_the_title_and_keeps_body_and_style():
    page = html_page(f"title {BAD}", "<p>a <i>body</i></p>", "p{color:red}")
    page = one_document(page, f"title {ESCAPED}")
    assert "<p>a <i>body</i></p>" in page
    assert "border-collapse:collapse" in page and "p{color:red}</style>" in page
    assert one_document(html_page("plain", ""), "plain")


def test_the_comparison_page():
    rows = [
        {
            "model": f"model {BAD}",
            "emotions": 12,
            "analysis_layer": 7,
            "pc1_variance": 0.41234,
            "pc2_variance": None,
            "sanity": True,
            "steering_beats_random": False,
            "holds:valence_geometry": True,
            "holds:logit_lens": False,
        },
        {"model": "seed write-up", "emotions": 171},
    ]
    page = one_document(comparison_html(rows), "emotion-vectors: models compared")
    assert "<h1>Models compared</h1>" in page
    assert "<th>PC1–valence r [95 % CI]</th>" in page and "<th>valence geometry</th>" in page
    assert "<th>implicit scenarios</th></tr></thead>" in page
    assert f"<tr><td>model {ESCAPED}</td><td>12</td><td>7</td><td>0.412</td><td>–</td>" in page
    assert "<td>holds</td>" in page and "<td>does not hold</td>" in page  # sanity, steering
    assert "<td class='ok'>holds</td><td class='no'>does not hold</td><td>–</td>" in page
    assert "<tr><td>seed write-up</td><td>171</td><td>–</td>" in page
    assert page.count("<tr>") == 3
    assert "Each verdict is decided against a control, at p &lt; 0.05: <b>valence " in page
    assert "for more than 50% of the emotions;" in page
    assert "(r &gt; 0, p of shuffling the shifts across emotions;" in page
    assert "as published: it gives no intervals or controls.</p>" in page
    assert one_document(comparison_html([]), "emotion-vectors: models compared")


def test_the_generalisation_table():
    corpus = {
        "top1": {"value": 0.41, "ci": [0.3, 0.52], "chance": 0.0833},
        "top1_grand_mean": {"value": 0.39, "ci": [None, None]},
        "strongest_baseline": f"words {BAD}",
        "baselines": {f"words {BAD}": {"value": 0.2, "ci": [0.1, 0.3]}},
        "versus_baselines": {
            f"words {BAD}": {
                "value": 0.21, "ci": [0.05, 0.37],
                "mcnemar": {"p": 0.0123, "only_vectors": 14, "only_baseline": 4},
            }
        },
        "beats_baselines": True,
        "top3": {"value": 0.7, "ci": [0.6, 0.8], "chance": 0.25},
        "top1_expository": 0.375,
        "top1_transductive": None,
        "held_out_layer": {"top1": {"value": 0.4, "ci": [0.3, 0.5]},
                           "chosen_on_half_0": 6, "chosen_on_half_1": 8},
        "valence_r": 0.8765,
        "valence_n": 12,
        "most_predicted": {"emotion": f"joy {BAD}", "passages": 9},
        "passages": 96,
    }  # fmt: skip
    result = {
        "model": f"m {BAD}",
        "analysis_layer": 7,
        "per_corpus": {"templates": corpus, f"stories {BAD}": {"top1": None, "valence_r": None}},
        "agreement": {"diagonal_mean": 0.61, "off_diagonal_mean": 0.12, "matched_share": 0.75,
                      "n": 12, "chance": 0.0833},
    }  # fmt: skip
    title = f"m {ESCAPED}: generalisation, layer 7"
    page = one_document(table_html(result), title)
    assert f"<h2>{title}</h2>" in page
    assert "<tr><th>corpus</th><th>top-1 [95 % CI over emotions]</th>" in page
    assert "<th>PC1–valence |r| (n)</th></tr>" in page
    expected = [
        "templates", "0.41 [0.30, 0.52]", "0.39", f"words {ESCAPED}: 0.20 [0.10, 0.30]",
        "0.21 [0.05, 0.37], p = 0.012", "0.70 [0.60, 0.80]", "0.08 / 0.25", "0.38 / –",
        "0.40 [0.30, 0.50] (layers 6, 8)", "0.88 (12)",
    ]  # fmt: skip
    assert "<tr>" + "".join(f"<td>{cell}</td>" for cell in expected) + "</tr>" in page
    assert f"<tr><td>stories {ESCAPED}</td>" + "<td>–</td>" * 9 + "</tr>" in page
    assert (
        f"<p>templates: lexical baselines on the same scenarios — words {ESCAPED}: top-1 0.20 "
        "[0.10, 0.30], vectors − it 0.21 [0.05, 0.37] (McNemar 14 vs 4 discordant, "
        "p = 0.012). The vectors beat every baseline (each paired CI above 0).</p>"
    ) in page
    assert f"<p>templates: most predicted emotion joy {ESCAPED} (9 of 96 passages).</p>" in page
    assert "the nearest story vector is the emotion&#39;s own for 75% of 12 emotions" in page


@pytest.mark.parametrize("ci", [[0.1, 0.9], None])
def test_the_logit_lens_page(tmp_path, ci):
    summary = pd.DataFrame({"emotion": [f"joy {BAD}", "fear"], "hit": [True, False],
                            "promoted": [f"glad, {BAD}", "afraid"]})  # fmt: skip
    hit_rate = {"value": 0.5, "n": 2, "ci": ci, "chance": 0.0625, "p": 0.0123}
    path = tmp_path / "lens.html"
    write_summary_html(summary, f"m {BAD}", 7, 20, hit_rate, str(path))
    page = one_document(path.read_text(), f"Logit lens: m {ESCAPED}")
    assert f"<h2>Logit lens: m {ESCAPED}, layer 7</h2>" in page
    assert "<p>Top 20 promoted and suppressed tokens of each denoised emotion vector" in page
    interval = " (95 % CI 10.0%–90.0%)" if ci else ""
    assert f"the promoted tokens: 50.0% of 2 emotions{interval}; chance (the same" in page
    assert "forms) 6.2%, permutation p = 0.0123.</p>" in page
    # The table as pandas renders it, its cells escaped once (not twice).
    assert '<table class="dataframe">' in page and "<th>promoted</th>" in page
    assert f"<td>joy {PANDAS_ESCAPED}</td>" in page and f"<td>glad, {PANDAS_ESCAPED}</td>" in page
    assert "&amp;lt;" not in page


def test_the_steered_generations_page():
    wide = pd.DataFrame(
        {"Tell me.": ["Fine.", f"Great {BAD}!"], f"Ask {BAD}": ["Ok", None]},
        index=pd.Index(["(none)", f"fear {BAD}"], name="steering"),
    )
    title = f"Steered generations: m {BAD}, layer 7"
    page = one_document(generations_html(title, wide), f"Steered generations: m {ESCAPED}, layer 7")
    assert f"<h2>Steered generations: m {ESCAPED}, layer 7</h2>" in page
    assert "td,th{max-width:28em}</style>" in page
    assert '<table class="dataframe">' in page and f"<th>Ask {PANDAS_ESCAPED}</th>" in page
    assert f"<th>fear {PANDAS_ESCAPED}</th>" in page and f"<td>Great {PANDAS_ESCAPED}!</td>" in page


FEAR = f"fear {BAD}"


def chat_frame() -> pd.DataFrame:
    """A chat of four tokens: a special one, a sink, a token with a line break, a reply."""
    frame = pd.DataFrame(
        {
            "position": [0, 1, 2, 3],
            "token": ["<s>", "Hi", f" {BAD}\n", "ok"],
            "role": ["", "user", "user", "assistant"],
            "message": [-1, 0, 0, 1],
            "special": [True, False, False, False],
            "sink": [False, True, False, False],
            "norm": [10.0, 123.4, 20.0, 30.0],
            "joy": [0.0, 5.0, 1.0, 3.0],
            FEAR: [0.0, 0.0, 2.0, -1.0],
        }
    )
    frame.attrs["emotions"] = ["joy", FEAR]
    return frame


def test_the_tokens_of_a_text():
    colours = {"joy": (1.0, 0.0, 0.0), FEAR: (0.0, 0.0, 1.0)}
    text = traces.tokens_html(chat_frame(), colours)
    assert BAD not in text and "<b>&" not in text
    # Token after token with no whitespace between them; a role opens each message. The
    # scale is the 95th percentile of the readable tokens' peaks (2 and 3): 2.95.
    assert text == (
        "<div class='text'>"
        "<span class='tok special' title='special token'>&lt;s&gt;</span>"
        "<br><span class='role'>[user]</span> "
        "<span class='tok sink' title='attention sink (norm 123); left out of every summary'>"
        "Hi</span>"
        f"<span class='tok' style='background:rgba(0,0,255,0.41)' title='fear {ESCAPED} +2.0, "
        f"joy +1.0'> {ESCAPED}↵<br></span>"
        "<br><span class='role'>[assistant]</span> "
        "<span class='tok' style='background:rgba(255,0,0,0.60)' title='joy +3.0, "
        f"fear {ESCAPED} -1.0'>ok</span>"
        "</div>"
    )
    titles = [a["title"] for tag, a in Attributes(text).tags if tag == "span" and "title" in a]
    assert titles[2] == f"fear {BAD} +2.0, joy +1.0"  # the quotes do not end the attribute


def test_a_trace_page(monkeypatch):
    drawn = []
    monkeypatch.setattr(traces, "line_plot", lambda f, c, title: drawn.append(title) or "QUJD")
    frame = chat_frame()
    plain = frame[frame["message"] == 0].copy()
    plain["message"] = -1
    plain.attrs["emotions"] = ["joy", FEAR]
    sections = [("as written", frame), (f"reply {BAD}", plain)]
    page = traces.trace_page(f"text {BAD}", sections, f"m {BAD}", 7, top_k=2)
    page = one_document(page, f"emotion trace: text {ESCAPED}")
    assert drawn == [f"text {BAD}, as written: the 6 leading emotions",
                     f"text {BAD}, reply {BAD}: the 6 leading emotions"]  # fmt: skip
    assert f"<h1>text {ESCAPED}</h1><p>m {ESCAPED}, layer 7: each token's residual state" in page
    assert "Dashed: attention sinks, left out of every summary.</p>" in page
    # tab20's first two colours key the two emotions.
    assert (
        "<p class='key'><span style='background:rgba(31,119,180,0.60)'>joy</span>"
        f"<span style='background:rgba(174,199,232,0.60)'>{FEAR.replace(BAD, ESCAPED)}</span></p>"
    ) in page
    assert "<h2>as written</h2>" in page and f"<h2>reply {ESCAPED}</h2>" in page
    assert page.count("<div class='text'>") == 2
    assert page.count("<img alt='emotions along the text' src='data:image/png;base64,QUJD'>") == 2
    assert "<th>message</th><th>tokens</th><th>top emotions (mean projection)</th>" in page
    assert f"<tr><td>1: user</td><td>1</td><td>{FEAR.replace(BAD, ESCAPED)} (+2.00), " in page
    assert "<tr><td>2: assistant</td><td>1</td><td>joy (+3.00), " in page
    assert "<tr><td>whole text</td><td>1</td>" in page  # the sink is left out
    srcs = [a["src"] for tag, a in Attributes(page).tags if tag == "img"]
    assert srcs == ["data:image/png;base64,QUJD"] * 2


def test_the_trace_index():
    summary = {
        "model": f"m {BAD}",
        "corpus": f"c {BAD}",
        "layer": 7,
        "texts": {
            f"t {BAD}": {
                "file": "a.json",
                "reply": f"I am {BAD}",
                "as written": [{"message": 0, "role": "user", "tokens": 3,
                                "top": [["joy", 1.2], [FEAR, 0.5]]},
                               {"message": 1, "role": None, "tokens": 2,
                                "top": [["calm", 0.3]]}],
                "seconds": 3.5,
            },
            "plain": {"file": "b.txt", "reply": None,
                      "as written": [{"message": -1, "role": "", "tokens": 5,
                                      "top": [["joy", 0.1]]}]},
        },
    }  # fmt: skip
    page = one_document(traces.index_page(summary), "emotion traces")
    assert f"<h1>Emotion traces: m {ESCAPED}, c {ESCAPED}, layer 7</h1>" in page
    assert "<tr><th>text</th><th>top emotions per message</th></tr>" in page
    assert (
        f"<tr><td><a href='t {ESCAPED}.html'>t {ESCAPED}</a></td><td><b>as written</b>: "
        f"user: joy, {FEAR.replace(BAD, ESCAPED)}; text: calm<br>"
        f"<b>reply</b>: <i>I am {ESCAPED}</i></td></tr>"
    ) in page
    assert (
        "<tr><td><a href='plain.html'>plain</a></td><td><b>as written</b>: text: joy</td>" in page
    )
    hrefs = [a["href"] for tag, a in Attributes(page).tags if tag == "a"]
    assert hrefs == [f"t {BAD}.html", "plain.html"]
