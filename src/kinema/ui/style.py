"""How the page looks: the theme (fonts bundled with Gradio, nothing fetched from the web), the CSS, the header."""

from __future__ import annotations

import gradio as gr

HEADER = """# kinema · make any character move
A reference picture and a driving video become a video of that character performing the motion. Drop your own
files, or click a **puppet example**: a held-out case of the puppet world, whose exact target the result is scored
against. One job runs at a time; others wait in the queue with their position shown."""

CSS = """
.gradio-container img, .gradio-container video { image-rendering: pixelated; }  /* 64 px puppet clips, scaled up */
#animate-reference img { width: 100%; height: 100%; object-fit: contain; }
.status { min-height: 2.5em; }
.status blockquote { border-left: 4px solid #dc2626; background: #fef2f2; color: #7f1d1d; margin: 0;
                     padding: .6em 1em; }
.status table { font-size: .9em; }
.status td { white-space: nowrap; }
.status th { overflow-wrap: normal; word-break: normal; }
.hint { opacity: .8; font-size: .9em; }
"""


def theme() -> gr.themes.Base:
    """A quiet theme; its fonts are the ones Gradio ships (no request leaves the machine)."""
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate")
