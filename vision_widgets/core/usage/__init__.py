"""Usage and cost: usage records (how much a model was used), cost rates with history, business metrics."""
