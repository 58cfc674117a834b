"""The tags a gang member's boot script reads through IMDSv2 (instance metadata tags)."""

TAG_RANK, TAG_NODES, TAG_HEAD = "greenml-rank", "greenml-nodes", "greenml-head-addr"
