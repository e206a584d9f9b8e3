"""The size report (report.html) and the size diff: data from the manifest (sizes.py, model.py), the page
(html.py), the diff (diff.py) and the files in the output folder (files.py)."""
