"""Measuring what a run used (``sampler``, standalone on a node), measuring a run here
(``track``), and setting the measurement beside the plan (``report``)."""
