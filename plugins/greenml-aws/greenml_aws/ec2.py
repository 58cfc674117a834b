"""What EC2 is asked and what its errors mean: pure functions, no client and no boto3 import.

``greenml_aws.AWS`` holds the boto3 clients and makes the calls; this module builds their
parameters and reads their errors. ``AWS_ENDPOINT_URL`` (honoured by boto3 itself) lets
LocalStack or moto stand in for AWS.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from greenml_aws.settings import AWSSettings
from greenml_aws.tags import TAG_NODES, TAG_RANK

if TYPE_CHECKING:  # what launching hands the provider: loaded to launch, not to plan
    from greenml.provider import Failure, InstanceRequest

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
#: Server-side errors (HTTP 5xx) that the same call may get past later, and a gang's group
#: that cannot be deleted while its instances are still shutting down.
TRANSIENT = {"ServiceUnavailable", "InternalError", "InternalFailure", "Unavailable",
             "DependencyViolation", "InvalidPlacementGroup.InUse"}
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

#: botocore's tries per call. greenml's launch loop retries create and terminate itself
#: (``greenml.RetryPolicy``: the same ClientToken, ``Retry-After``, failover after the last
#: try), so the calls made inside them get one try from botocore: a throttled RunInstances is
#: sent at most ``RetryPolicy.attempts`` times (default 5), not 4 x 5. Calls greenml does not
#: retry (the credential check, finding a launch's instances) keep botocore's standard 4.
LOOP_TRIES = 1
SDK_TRIES = 4


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


def run_instances_args(request: InstanceRequest, image: str, settings: AWSSettings,
                       group: tuple[str, str] | None = None) -> dict[str, Any]:
    """The exact RunInstances parameters for one instance of a launch; ``group``: a gang's
    (placement group name, security group id)."""
    from greenml.provider.boot import AWS as AWS_BOOT
    from greenml.provider.boot import for_request

    option = request.option
    tags = [{"Key": k, "Value": v} for k, v in sorted(request.tags.items())]
    tags.append({"Key": "Name", "Value": request.instance_name})
    if group:  # a gang member's rank and the node count are known now; the head address
        # comes once every member exists (gang.write_rendezvous, one CreateTags for all)
        tags += [{"Key": TAG_RANK, "Value": str(request.index)},
                 {"Key": TAG_NODES, "Value": str(option.instances)}]
    args: dict[str, Any] = {
        "ImageId": image,
        "InstanceType": option.offer.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": request.token,
        "UserData": for_request(request, AWS_BOOT),  # cloud-init runs it at first boot
        "TagSpecifications": [{"ResourceType": "instance", "Tags": tags},
                              {"ResourceType": "volume", "Tags": tags}],
        # the boot script reads the gang's rendezvous from tags, through IMDSv2 only
        "MetadataOptions": {"HttpTokens": "required", "InstanceMetadataTags": "enabled"},
    }
    if not request.keep:  # the boot script's shutdown (and its watchdog's) deletes it
        args["InstanceInitiatedShutdownBehavior"] = "terminate"
    placement = {"AvailabilityZone": request.zone} if request.zone else {}
    if group:
        placement["GroupName"] = group[0]
    if placement:
        args["Placement"] = placement
    if option.spot:
        args["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {
            "SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}}
    if settings.key_name:
        args["KeyName"] = settings.key_name
    groups = [*settings.security_group_ids, *([group[1]] if group else [])]
    if groups:
        args["SecurityGroupIds"] = groups
    if settings.subnet_id:
        args["SubnetId"] = settings.subnet_id
    if settings.iam_instance_profile:
        args["IamInstanceProfile"] = {"Name": settings.iam_instance_profile}
    return args


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def classify(error: BaseException) -> Failure:
    """EC2 error codes to failover scopes (see the EC2 API error code reference)."""
    from greenml.provider import Failure

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


def describe(request: InstanceRequest, settings: AWSSettings) -> str:
    """The dry-run line: what would be created, with which AMI, calling nothing."""
    option = request.option
    image = settings.image_id or (
        "the AWS Deep Learning AMI from SSM "
        f"{DLAMI_PARAMETERS[architecture(option.offer.instance_type)]}")
    market = "spot" if option.spot else "on-demand"
    return (f"aws ec2 run-instances --region {option.region.name} --instance-type "
            f"{option.offer.instance_type} ({market}) name {request.instance_name}, image "
            f"{image}, tags {dict(sorted(request.tags.items()))}")
