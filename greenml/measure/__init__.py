"""Measuring what a run used (``sampler``, standalone on a node), measuring a run here
(``track``), and setting the measurement beside the plan (``report``)."""

#: What ``greenml report`` writes (text for a terminal, the others for a paper or a script).
REPORT_FORMATS = ("text", "markdown", "latex", "json")
