"""Studies: a grid of runs. The study file (`study_file`), running its cells (`study_run`), one cell
packed for a worker (`study_cell`) and run on Ray (`study_ray`), and the `renders:` axis
(`study_renders`)."""
