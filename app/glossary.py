"""The glossary the app's tooltips and the Start page come from: its texts live in ``aim/glossary.py``, where the
HTML reports (``aim/report/``) read them too (``aim`` never imports ``app``)."""

from aim.glossary import TERMS, Term, tip

__all__ = ["TERMS", "Term", "tip"]
