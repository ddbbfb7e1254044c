"""A conventional Powertools Lambda, the way many serverless Python services start: Logger, Metrics,
Tracer, the REST resolver with pydantic validation, a boto3 DynamoDB resource and clients at import.
The cold-start benchmark compares LedgerLink's handlers with importing this module."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel

logger = Logger(service="conventional")
metrics = Metrics(namespace="Bench", service="conventional")
tracer = Tracer(service="conventional", disabled=True)
app = APIGatewayRestResolver(enable_validation=True)
table = boto3.resource("dynamodb").Table("orders")
sqs = boto3.client("sqs")
s3 = boto3.client("s3")


class Order(BaseModel):
    order_id: str
    amount: str
    currency: str


@app.post("/orders")
def create(order: Order) -> dict:
    table.put_item(Item=order.model_dump())
    return {"ok": True}


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
