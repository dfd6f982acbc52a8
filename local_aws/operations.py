"""The License Manager operations the emulator implements: request params in, response out.

Each one raises ApiError for what the service would answer as an error; api.OPERATIONS maps
X-Amz-Target names to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from local_aws.arns import parse_config_arn
from local_aws.errors import ApiError, service_model
from local_aws.pagination import decode_token, encode_token, fingerprint
from local_aws.seeding import StoredConfiguration
from local_aws.store import Store
from local_aws.usage import iter_records

USAGE_FILTERS = {
    "resourceArn": "ResourceArn",
    "resourceType": "ResourceType",
    "resourceAccount": "ResourceOwnerId",
}
CONFIG_FILTERS = ("licenseCountingType", "enforceLicenseCount", "usagelimitExceeded")


@dataclass
class Context:
    """What an operation works with: the caller's account and Region, the store, the limits."""

    account: str
    region: str
    store: Store
    page_size_cap: int
    max_filters: int
    max_filter_values: int
    isolate_accounts: bool = False

    def may_read(self, account: str) -> bool:
        return not self.isolate_accounts or account == self.account


Operation = Callable[[dict[str, Any], Context], dict[str, Any]]


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterValueException", message)


def _page_size(params: dict[str, Any], ctx: Context) -> int:
    max_results = params.get("MaxResults")
    if max_results is None:
        return ctx.page_size_cap
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise _invalid("MaxResults must be a positive integer.")
    return min(max_results, ctx.page_size_cap)


def _filters(
    params: dict[str, Any], ctx: Context, names: tuple[str, ...]
) -> list[tuple[str, set[str]]]:
    filters = params.get("Filters")
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise _invalid("Filters must be a list.")
    if len(filters) > ctx.max_filters:
        raise ApiError("FilterLimitExceededException", f"At most {ctx.max_filters} filters.")
    parsed: list[tuple[str, set[str]]] = []
    for item in filters:
        name = item.get("Name") if isinstance(item, dict) else None
        values = item.get("Values") if isinstance(item, dict) else None
        if not isinstance(name, str) or name not in names:
            raise _invalid(f"Invalid filter name: {name!r}. Valid names: {', '.join(names)}.")
        if not (isinstance(values, list) and values and all(isinstance(v, str) for v in values)):
            raise _invalid(f"Filter {name} needs a non-empty list of string Values.")
        if len(values) > ctx.max_filter_values:
            raise ApiError(
                "FilterLimitExceededException",
                f"At most {ctx.max_filter_values} values per filter.",
            )
        parsed.append((name, set(values)))
    return parsed


def _config(params: dict[str, Any], ctx: Context) -> StoredConfiguration:
    arn = params.get("LicenseConfigurationArn")
    if arn is None:
        raise _invalid("LicenseConfigurationArn is required.")
    if parse_config_arn(arn) is None:
        raise _invalid(f"Invalid ARN: {arn}")
    config = ctx.store.get(arn, ctx.region)
    if config is not None and not ctx.may_read(config.arn.account):
        raise ApiError(
            "AccessDeniedException",
            f"Account {ctx.account} is not authorized to read license configuration {arn}.",
        )
    if config is None:
        raise _invalid(f"License configuration not found: {arn}")
    return config


def _paginate(
    matches: Callable[[int], Iterator[tuple[int, dict[str, Any]]]], start: int, size: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Take `size` items from matches(start); the next position is that of the next match, so
    the last page never comes with a token."""
    page: list[dict[str, Any]] = []
    for position, item in matches(start):
        if len(page) == size:
            return page, position
        page.append(item)
    return page, None


def get_license_configuration(params: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return dict(_config(params, ctx).members)


def _usage_fingerprint(arn: str, filters: list[tuple[str, set[str]]]) -> str:
    return fingerprint("usage", arn, sorted((n, sorted(v)) for n, v in filters))


def usage_resume_token(arn: str, position: int, filters: list[dict[str, Any]] | None = None) -> str:
    """A ListUsageForLicenseConfiguration NextToken resuming at record `position` (for tests and
    benchmarks that want e.g. the last page of a huge configuration without paging to it)."""
    parsed = [(f["Name"], set(f["Values"])) for f in filters or []]
    return encode_token(position, _usage_fingerprint(arn, parsed))


def list_usage_for_license_configuration(params: dict[str, Any], ctx: Context) -> dict[str, Any]:
    config = _config(params, ctx)
    size = _page_size(params, ctx)
    filters = _filters(params, ctx, tuple(USAGE_FILTERS))
    print_ = _usage_fingerprint(config.arn.arn, filters)
    start = decode_token(params.get("NextToken"), print_)

    def matches(begin: int) -> Iterator[tuple[int, dict[str, Any]]]:
        for index, record in iter_records(config.usage, begin):
            if all(record.get(USAGE_FILTERS[name]) in values for name, values in filters):
                yield index, record

    page, next_position = _paginate(matches, start, size)
    response: dict[str, Any] = {"LicenseConfigurationUsageList": page}
    if next_position is not None:
        response["NextToken"] = encode_token(next_position, print_)
    return response


def _summary_members() -> tuple[str, ...]:
    return tuple(service_model().shape_for("LicenseConfiguration").members)


def _config_matches(members: dict[str, Any], name: str, values: set[str]) -> bool:
    if name == "licenseCountingType":
        return members.get("LicenseCountingType") in values
    if name == "enforceLicenseCount":
        value = members.get("LicenseCountHardLimit")
    else:
        count, consumed = members.get("LicenseCount"), members.get("ConsumedLicenses")
        value = count is not None and consumed is not None and consumed > count
    return value is not None and str(bool(value)).lower() in {v.lower() for v in values}


def list_license_configurations(params: dict[str, Any], ctx: Context) -> dict[str, Any]:
    size = _page_size(params, ctx)
    filters = _filters(params, ctx, CONFIG_FILTERS)
    arns = params.get("LicenseConfigurationArns")
    if arns is None:
        configs = ctx.store.list_scope(ctx.account, ctx.region)
    else:
        if not isinstance(arns, list) or any(parse_config_arn(a) is None for a in arns):
            raise _invalid("LicenseConfigurationArns must be a list of configuration ARNs.")
        found = (ctx.store.get(arn, ctx.region) for arn in dict.fromkeys(arns))
        configs = [c for c in found if c is not None and ctx.may_read(c.arn.account)]
    selected = [c for c in configs if all(_config_matches(c.members, n, v) for n, v in filters)]
    print_ = fingerprint(
        "configs", ctx.account, ctx.region, arns, sorted((n, sorted(v)) for n, v in filters)
    )
    start = decode_token(params.get("NextToken"), print_)
    keep = _summary_members()

    def matches(begin: int) -> Iterator[tuple[int, dict[str, Any]]]:
        for index in range(begin, len(selected)):
            members = selected[index].members
            yield index, {k: v for k, v in members.items() if k in keep}

    page, next_position = _paginate(matches, start, size)
    response: dict[str, Any] = {"LicenseConfigurations": page}
    if next_position is not None:
        response["NextToken"] = encode_token(next_position, print_)
    return response
