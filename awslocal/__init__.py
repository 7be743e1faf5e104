"""`make run-aws`: the service's AWS code path (API Gateway + Lambda, EventBridge Scheduler, SQS,
DynamoDB, KMS) running end to end on one machine, on moto in server mode.

Parts (each logs under its own name): `motoserver` (moto, calls counted), `terraform` + `hcl` +
`provision` + `deployment` (the stack created from terraform/*.tf), `worker` + `lambdas` (worker processes
per function, with Terraform's handler and environment), `gateway` (API Gateway: authorizer, usage
plans, proxy events), `scheduler` (EventBridge Scheduler and rules), `esm` (the SQS event source
mapping) and `run` (starts and stops them all). Not part of the Lambda package.
"""
