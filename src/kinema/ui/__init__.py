"""The web UI of ``kinema serve``: a Gradio app over the same Python API as the CLI.

Layout by role:

- ``access``: who may reach the server (loopback by default, a login otherwise); no Gradio.
- ``jobs``: one press of Animate or Replace as a typed request, run through the pipelines' file-in,
  file-out functions with the CLI's checks and messages; no Gradio.
- ``examples``: puppet-world cases written as ``kinema synth`` samples, and their exact targets' scores; no Gradio.
- ``forms``: each tab's widgets, with the model card's defaults.
- ``results``: what the page shows after a job (notes, metrics, downloads, history).
- ``app``: the page, its events and the one-job-at-a-time queue; ``launch`` starts it.

Importing this package does not import Gradio (an optional extra): ``kinema serve`` checks the binding first.
"""
