// Python twin: none (the Core ML backend exists on Apple systems only; see CoreMLBackend.swift).
