"""Readings: how a label is read from a student's answer. `protocol` is what a reading asks of a
model; then one file per reading (`scored`, `channel`, `knn`, `probe`, `hidden`, `ensemble`,
`train_calibration`, `constrained`), `modes` the names and their checks, `build` the one that settings
name. Nothing here loads a model or talks to a server: the local and server wings answer `protocol`."""
