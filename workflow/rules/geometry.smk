# geometry analyses (per model and corpus, downstream of the cached vectors).
