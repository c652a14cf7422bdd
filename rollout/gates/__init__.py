"""Gates: judge the candidate against the baseline running at the same time."""
