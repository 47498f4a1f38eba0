"""The prediction endpoint: model pool and batching (`pool`), the protocol-free
dataplane (`service`), thin protocol routes (`tfserving`), app wiring (`app`)."""
