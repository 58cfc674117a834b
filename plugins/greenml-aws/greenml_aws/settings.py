"""The AWS settings a launch takes (``-o aws.key=value``), parsed once into ``AWSSettings``."""

from __future__ import annotations

from attrs import frozen

from greenml.provider import comma_list, setting


@frozen
class AWSSettings:
    """What the user may choose for each EC2 instance; empty means AWS's (or greenml's)
    default."""

    image_id: str = setting(help="AMI to boot instead of the AWS Deep Learning AMI")
    key_name: str = setting(help="EC2 key pair for ssh")
    security_group_ids: tuple[str, ...] = setting(help="comma-separated security group ids",
                                                  default=(), parse=comma_list)
    subnet_id: str = setting(help="subnet to launch into")
    iam_instance_profile: str = setting(help="instance profile name")
