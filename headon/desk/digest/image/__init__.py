"""The night's digest as one long PNG, for channels that only take pictures.

No Django here: `render_digest_png` takes a digest snapshot (the
"headon-digest/1" dict the desk freezes at publication) and the fixed UI
strings, and returns PNG bytes. The desk passes translated `ImageLabels`.

Chinese typesetting is the point of this package, so it does by hand what
Pillow would otherwise do, one concern to a module:

- `fonts`: which vendored Noto Sans SC slice draws each character (a
  character none holds is dropped, not drawn as a box) and how wide text is.
- `lines`: line breaking between CJK characters and at spaces, with kinsoku.
- `markdown`: an answer's Markdown as plain paragraphs, list items, headings.
- `page`: the page's size, palette and type styles, and the draw operations.
- `layout`: the digest section by section, as draw operations on a `Page`.
- `paint`: the operations drawn strip by strip; `render_digest_png`.
- `png`: the strips deflated into one PNG while the next strip is drawn.

`python -m headon.desk.digest.image` times the rendering of a huge digest.
"""

from headon.desk.digest.image.layout import ImageLabels, lay_out_digest
from headon.desk.digest.image.page import Page, TextOp
from headon.desk.digest.image.paint import render_digest_png

__all__ = ["ImageLabels", "Page", "TextOp", "lay_out_digest", "render_digest_png"]
