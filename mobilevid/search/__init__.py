"""Hardware-aware search of the temporal layers (SnapGen-V): cost table, supernet, evolution, Pareto front."""
