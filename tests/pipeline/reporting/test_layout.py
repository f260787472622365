"""The layout check itself, on pages whose layout is known: what runs past a 1,400-pixel window is found and
named by its section. (The real report through it: test_flow.py, on the whole tiny flow's report.)"""

import pytest

from tests.browser import lay_out

PAGE = (
    "<!doctype html><html><body style='max-width: 1100px; margin: auto'>"
    "<h2>Fits</h2><table><tr><td>a short cell</td></tr></table><pre>short</pre>{wide}</body></html>"
)
WIDE_PRE = "<h2>Too wide</h2><pre style='white-space: pre'>" + "x" * 400 + "</pre>"


@pytest.mark.slow
def test_a_page_that_fits_has_nothing_past_the_window(tmp_path):
    (tmp_path / "page.html").write_text(PAGE.format(wide=""))
    layout = lay_out(tmp_path / "page.html", 1400, tmp_path / "page.png")
    assert (layout.viewport, layout.scroll_width, layout.overflowing) == (1400, 1400, [])
    assert (tmp_path / "page.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_a_pre_wider_than_the_window_is_found_and_named_by_its_section(tmp_path):
    (tmp_path / "page.html").write_text(PAGE.format(wide=WIDE_PRE))
    layout = lay_out(tmp_path / "page.html", 1400, tmp_path / "page.png")
    assert layout.scroll_width > 1400
    assert [line.split(" ends at")[0] for line in layout.overflowing] == ['pre under "Too wide"']
