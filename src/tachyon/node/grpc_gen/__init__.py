"""The gRPC service's modules generated from proto/tachyon/v1/exchange.proto by
scripts/gen_grpc (do not edit: regenerate)."""
