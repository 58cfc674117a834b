"""Launching on EC2 through boto3. boto3 is imported here, inside functions, never at import.

Credentials come from boto3's default chain; ``AWS_ENDPOINT_URL`` (honoured by boto3 itself)
lets LocalStack or moto stand in for AWS.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from greenml import Failure, InstanceRequest, Resource
from greenml.provider import TAG_LAUNCH_ID, boot_script

#: Public SSM parameters naming the latest AWS Deep Learning AMI, by what the instance needs.
DLAMI_PARAMETERS = {
    "x86_64": "/aws/service/deeplearning/ami/x86_64/"
              "base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id",
    "arm64": "/aws/service/deeplearning/ami/arm64/"
             "base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id",
    "neuron": "/aws/service/neuron/dlami/multi-framework/ubuntu-22.04/latest/image_id",
}

#: Instance families with Graviton/Grace CPUs, and those with AWS Neuron accelerators.
ARM64_FAMILIES = ("g5g", "p6e-gb200", "u-p6e-gb200x36", "u-p6e-gb200x72")
NEURON_FAMILIES = ("trn1", "trn1n", "trn2", "inf1", "inf2")

CAPACITY = {
    "InsufficientInstanceCapacity", "InsufficientCapacity", "InsufficientHostCapacity",
    "InsufficientReservedInstanceCapacity", "SpotMaxPriceTooLow", "Unsupported",
    "InsufficientCapacityOnHost", "UnfulfillableCapacity", "MaxSpotInstanceCountExceeded",
}
QUOTA = {"VcpuLimitExceeded", "InstanceLimitExceeded", "OptInRequired", "PendingVerification"}
#: The image cannot be had in this region (the DLAMI parameter or the AMI is missing there).
IMAGE = {"ParameterNotFound", "InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"}
THROTTLE = {"RequestLimitExceeded", "Throttling", "ThrottlingException",
            "RequestThrottled", "EC2ThrottledException"}
#: Server-side errors (HTTP 5xx) that the same call may get past later.
TRANSIENT = {"ServiceUnavailable", "InternalError", "InternalFailure", "Unavailable"}
#: AWS could not tell who is calling: the credentials themselves are wrong or expired.
AUTHENTICATION = {"AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch",
                  "ExpiredToken", "ExpiredTokenException", "RequestExpired",
                  "IncompleteSignature", "MissingAuthenticationToken", "InvalidAccessKeyId",
                  "UnrecognizedClientException"}
#: AWS knows the caller, who may not do this (IAM policy, SCP, a blocked account).
PERMISSION = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "Blocked"}
CREDENTIALS = AUTHENTICATION | PERMISSION
#: botocore's exceptions for a request that got no answer: the network, not the credentials.
UNREACHABLE = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
               "ConnectionClosedError", "ProxyConnectionError", "SSLError",
               "HTTPClientError"}
#: Of those, the ones where the request may have reached AWS and only the answer was lost:
#: retried (the same ClientToken returns the instance a lost answer was about, never a second
#: one), as botocore retried them before greenml took its retries over.
ANSWER_LOST = {"ReadTimeoutError", "ConnectionClosedError", "HTTPClientError"}
#: What to check when the credentials themselves were refused.
CREDENTIAL_HINT = ("check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), "
                   "or AWS_PROFILE; an expired SSO session needs 'aws sso login'")

SETTINGS = {
    "image_id": "AMI to boot instead of the AWS Deep Learning AMI",
    "key_name": "EC2 key pair for ssh",
    "security_group_ids": "comma-separated security group ids",
    "subnet_id": "subnet to launch into",
    "iam_instance_profile": "instance profile name",
}

#: botocore's tries per call. greenml's launch loop retries create and terminate itself
#: (``greenml.RetryPolicy``: the same ClientToken, ``Retry-After``, failover after the last
#: try), so the calls made inside them get one try from botocore: a throttled RunInstances is
#: sent at most ``RetryPolicy.attempts`` times (default 5), not 4 x 5. Calls greenml does not
#: retry (the credential check, finding a launch's instances) keep botocore's standard 4.
LOOP_TRIES = 1
SDK_TRIES = 4

_clients: dict[tuple[str, str, int], Any] = {}
_lock = threading.Lock()


def client(service: str, region: str, tries: int = LOOP_TRIES) -> Any:
    """One boto3 client per (service, region, botocore tries per call), shared by threads
    (boto3 clients are safe)."""
    with _lock:
        key = (service, region, tries)
        if key not in _clients:
            import boto3
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "total_max_attempts": tries},
                            connect_timeout=10, read_timeout=60)
            _clients[key] = boto3.session.Session().client(service, region_name=region,
                                                           config=config)
        return _clients[key]


def forget_clients() -> None:
    """Drop cached clients (credentials or endpoint changed)."""
    with _lock:
        _clients.clear()


def check_credentials() -> tuple[bool, str]:
    import boto3

    session = boto3.session.Session()
    if session.get_credentials() is None:
        return False, ("no AWS credentials found: set AWS_ACCESS_KEY_ID and "
                       "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run 'aws configure' / "
                       "'aws sso login'")
    try:
        client("sts", session.region_name or "us-east-1", SDK_TRIES).get_caller_identity()
    except Exception as exc:  # the reason only, never the key
        return False, credentials_problem(exc)
    return True, ""


def credentials_problem(error: BaseException) -> str:
    """Why STS GetCallerIdentity failed, in one line: the network, the credentials, a
    permission, or AWS itself, each with what to check. Never a key."""
    code = error_code(error)
    name = type(error).__name__
    far = unreachable(error)
    if far:
        return f"cannot check the AWS credentials: {far}"
    if code in AUTHENTICATION:
        return f"AWS rejected the credentials ({code}): {CREDENTIAL_HINT}"
    if code in PERMISSION:
        return (f"AWS accepted the credentials but refused sts:GetCallerIdentity ({code}): "
                "check the IAM policies and service control policies of this identity")
    if code in THROTTLE or code in TRANSIENT:
        return f"AWS STS could not answer just now ({code}): try again"
    if name in ("NoRegionError",):
        return f"{name}: set AWS_DEFAULT_REGION or a region in the AWS profile"
    return f"the AWS credential check failed ({code or name}): {_message(error)[:200]}"


def unreachable(error: BaseException) -> str:
    """"" unless ``error`` says AWS could not be reached; else where, why, and what to check.

    The endpoint is shown without any user:password part; a proxy's URL is not shown at all
    (it may carry credentials)."""
    name = type(error).__name__
    if name not in UNREACHABLE:
        return ""
    if name == "ProxyConnectionError":
        return (f"cannot reach the HTTP proxy ({name}): check HTTPS_PROXY / HTTP_PROXY and "
                "the network")
    kwargs = getattr(error, "kwargs", None)
    url = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
    where = _without_userinfo(str(url)) if url else "the AWS endpoint"
    check = "the network and any proxy"
    if os.environ.get("AWS_ENDPOINT_URL"):
        check += ", and AWS_ENDPOINT_URL"
    return f"cannot reach {where} ({name}): no answer, so nothing about the credentials is " \
           f"known; check {check}"


def _without_userinfo(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else host


def architecture(instance_type: str) -> str:
    family = instance_type.split(".")[0]
    if family in NEURON_FAMILIES:
        return "neuron"
    return "arm64" if family in ARM64_FAMILIES else "x86_64"


def image_id(region: str, instance_type: str, settings: Mapping[str, str]) -> str:
    """The AMI: the user's, else the Deep Learning AMI resolved through its SSM parameter."""
    if settings.get("image_id"):
        return settings["image_id"]
    name = DLAMI_PARAMETERS[architecture(instance_type)]
    return client("ssm", region).get_parameter(Name=name)["Parameter"]["Value"]


def run_instances_args(request: InstanceRequest, image: str) -> dict[str, Any]:
    """The exact RunInstances parameters for one instance of a launch."""
    option, settings = request.option, request.settings
    tags = [{"Key": k, "Value": v} for k, v in sorted(request.tags.items())]
    tags.append({"Key": "Name", "Value": request.instance_name})
    args: dict[str, Any] = {
        "ImageId": image,
        "InstanceType": option.offer.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": request.token,
        "UserData": boot_script(request.run),  # cloud-init runs user-data at first boot
        "TagSpecifications": [{"ResourceType": "instance", "Tags": tags},
                              {"ResourceType": "volume", "Tags": tags}],
        "InstanceInitiatedShutdownBehavior": "terminate",
    }
    if request.zone:
        args["Placement"] = {"AvailabilityZone": request.zone}
    if option.spot:
        args["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {
            "SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}}
    if settings.get("key_name"):
        args["KeyName"] = settings["key_name"]
    if settings.get("security_group_ids"):
        args["SecurityGroupIds"] = [s.strip() for s in settings["security_group_ids"].split(",")]
    if settings.get("subnet_id"):
        args["SubnetId"] = settings["subnet_id"]
    if settings.get("iam_instance_profile"):
        args["IamInstanceProfile"] = {"Name": settings["iam_instance_profile"]}
    return args


def create_instance(request: InstanceRequest) -> Resource:
    region = request.option.region.name
    image = image_id(region, request.option.offer.instance_type, request.settings)
    args = run_instances_args(request, image)  # botocore base64-encodes UserData itself
    reply = client("ec2", region).run_instances(**args)
    instance = reply["Instances"][0]
    return Resource("aws", region, instance["InstanceId"], "instance",
                    instance.get("Placement", {}).get("AvailabilityZone", ""),
                    request.instance_name, request.launch_id, instance["State"]["Name"])


def terminate(resources: Sequence[Resource]) -> None:
    by_region: dict[str, list[str]] = {}
    for r in resources:
        if r.resource_id:
            by_region.setdefault(r.region, []).append(r.resource_id)
    for region, ids in by_region.items():
        ec2 = client("ec2", region)
        try:
            ec2.terminate_instances(InstanceIds=ids)
        except Exception as exc:
            if error_code(exc) != "InvalidInstanceID.NotFound":
                raise
            for one in ids:  # some are gone already: terminate the others one by one
                try:
                    ec2.terminate_instances(InstanceIds=[one])
                except Exception as inner:
                    if error_code(inner) != "InvalidInstanceID.NotFound":
                        raise


def find_resources(launch_id: str, regions: Sequence[str]) -> list[Resource]:
    found = []
    for region in regions:
        ec2 = client("ec2", region, SDK_TRIES)
        pages = ec2.get_paginator("describe_instances").paginate(Filters=[
            {"Name": f"tag:{TAG_LAUNCH_ID}", "Values": [launch_id]},
            {"Name": "instance-state-name",
             "Values": ["pending", "running", "stopping", "stopped"]},
        ])
        for page in pages:
            for reservation in page["Reservations"]:
                for inst in reservation["Instances"]:
                    tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
                    found.append(Resource(
                        "aws", region, inst["InstanceId"], "instance",
                        inst.get("Placement", {}).get("AvailabilityZone", ""),
                        tags.get("Name", ""), launch_id, inst["State"]["Name"]))
    return found


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def classify(error: BaseException) -> Failure:
    """EC2 error codes to failover scopes (see the EC2 API error code reference)."""
    code = error_code(error)
    message = _message(error)
    if code in THROTTLE:
        return Failure("none", f"{code}: throttled", code, retry=True)
    if code in TRANSIENT:
        return Failure("none", f"{code}: EC2 had a server error (transient): {message}", code,
                       retry=True)
    if code in CAPACITY:
        return Failure("offer", f"{code}: {message}", code)
    if code in QUOTA or code in IMAGE:
        return Failure("region", f"{code}: {message}", code)
    if code in AUTHENTICATION:
        return Failure("provider", f"{code}: AWS rejected the credentials: {CREDENTIAL_HINT}",
                       code, stop=True)
    if code in PERMISSION:
        return Failure("provider", f"{code}: the credentials lack permission for this call "
                       "(check the IAM policy of this identity)", code, stop=True)
    name = type(error).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoRegionError"):
        return Failure("provider", f"{name}: {error}", name, stop=True)
    if name in UNREACHABLE:
        return Failure("provider", unreachable(error), name, retry=name in ANSWER_LOST)
    if code:
        return Failure("none", f"{code}: {message}", code, stop=True)
    return Failure("none", f"{name}: {error}", name, stop=True)


def _message(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Message", "")) or str(error)
    return str(error)


def describe(request: InstanceRequest) -> str:
    """The dry-run line: what would be created, with which AMI, calling nothing."""
    option = request.option
    image = request.settings.get("image_id") or (
        "the AWS Deep Learning AMI from SSM "
        f"{DLAMI_PARAMETERS[architecture(option.offer.instance_type)]}")
    market = "spot" if option.spot else "on-demand"
    return (f"aws ec2 run-instances --region {option.region.name} --instance-type "
            f"{option.offer.instance_type} ({market}) name {request.instance_name}, image "
            f"{image}, tags {dict(sorted(request.tags.items()))}")
