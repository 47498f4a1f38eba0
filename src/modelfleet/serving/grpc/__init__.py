"""The endpoint over gRPC: KServe V2's GRPCInferenceService (`v2_service`) and TF
Serving's PredictionService (`tfs_service`) on one port, served by `grpc.aio` in each
endpoint worker's event loop, with the HTTP routes' pool, batchers, keys and metrics
(`server`). `grpc_predict_v2.proto` is the V2 protocol; its *_pb2 modules are protoc's
output (`make grpc-stubs`)."""
