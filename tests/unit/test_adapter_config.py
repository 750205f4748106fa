"""adapter_config.json checks made before anything is published (what peft itself could not load)."""

import pytest

from hubver.errors import MetadataError
from hubver.metadata import check_adapter_config

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("rank", [8, 1, None])
def test_ranks_peft_accepts(rank):
    check_adapter_config(
        {"r": rank, "peft_type": "LORA", "target_modules": ["c_attn"]}, "adapter_config.json"
    )


@pytest.mark.parametrize("rank", [0, -2, 8.5, "8", True, [8], {"r": 8}])
def test_a_rank_that_is_not_a_positive_integer_is_refused(rank):
    with pytest.raises(
        MetadataError, match=r"adapter_config.json: r \(the LoRA rank\) should be a positive integer"
    ):
        check_adapter_config({"r": rank}, "adapter_config.json")


@pytest.mark.parametrize("kind", [[], 3, {"LORA": 1}])
def test_a_peft_type_that_is_not_a_string_is_refused(kind):
    with pytest.raises(MetadataError, match="peft_type should be a string"):
        check_adapter_config({"peft_type": kind}, "adapter_config.json")
