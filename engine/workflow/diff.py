"""What a new BPMN version changes against the running one, element by element (by BPMN id).

A reviewer approves a draft on this diff, so it errs on the side of showing too much: every
attribute, lane membership and the text of every expression, with diagram layout left out.
"""

from dataclasses import dataclass, field

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
# Elements whose children are elements of their own (listed separately, not as properties).
CONTAINERS = {
    "definitions",
    "process",
    "subProcess",
    "transaction",
    "adHocSubProcess",
    "collaboration",
}
LANE_SETS = {"laneSet", "childLaneSet"}
# Children already shown another way: flows carry sourceRef/targetRef, nodes their lane.
SKIPPED_CHILDREN = {"incoming", "outgoing", "flowNodeRef", "childLaneSet"}
EXPRESSIONS = {
    "conditionExpression": "condition",
    "timeDuration": "timer duration",
    "timeDate": "timer date",
    "timeCycle": "timer cycle",
    "loopCardinality": "loop cardinality",
    "completionCondition": "completion condition",
    "script": "script",
    "preScript": "pre-script",
    "postScript": "post-script",
}
# Wrappers that add nothing to a property's name.
TRANSPARENT = {"extensionElements", "parameters"}
# Colours bpmn-js may add: cosmetic, never behaviour.
COSMETIC_NAMESPACES = {
    "http://bpmn.io/schema/bpmn/biocolor/1.0",
    "http://www.omg.org/spec/BPMN/non-normative/color/1.0",
}


@dataclass(frozen=True)
class Change:
    """One property of an element: `old` is None when added, `new` is None when removed."""

    field: str
    old: str | None
    new: str | None
    expression: bool = False


@dataclass(frozen=True)
class ElementChange:
    id: str
    tag: str
    name: str | None
    changes: tuple[Change, ...]


@dataclass
class WorkflowDiff:
    added: list[ElementChange] = field(default_factory=list)
    removed: list[ElementChange] = field(default_factory=list)
    changed: list[ElementChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def element(self, element_id: str) -> ElementChange | None:
        """The entry for one element id, wherever it is listed (tests and templates read it)."""
        for entry in (*self.added, *self.removed, *self.changed):
            if entry.id == element_id:
                return entry
        return None


@dataclass(frozen=True)
class _Property:
    value: str
    expression: bool = False


@dataclass
class _Element:
    id: str
    tag: str
    name: str | None
    properties: dict[str, _Property]


def _local(node) -> str:
    return etree.QName(node).localname


def _attribute_name(node, qualified: str) -> str | None:
    """A readable attribute name, or None for an attribute that changes nothing."""
    name = etree.QName(qualified)
    if name.namespace is None:
        return name.localname
    if name.namespace in COSMETIC_NAMESPACES:
        return None
    prefixes = {uri: prefix for prefix, uri in node.nsmap.items() if prefix}
    prefix = prefixes.get(name.namespace)
    return f"{prefix}:{name.localname}" if prefix else name.localname


def _is_bpmn(node) -> bool:
    return isinstance(node.tag, str) and etree.QName(node).namespace == BPMN_NS


def _label(parent: str, node, siblings) -> str:
    """How a nested node is named in the diff: a path of tags, with spiff names made readable."""
    tag = _local(node)
    if etree.QName(node).namespace == SPIFF_NS and tag == "parameter":
        return f"service parameter '{node.get('id')}'"
    if tag == "serviceTaskOperator":
        return "service operator"
    same = [s for s in siblings if isinstance(s.tag, str) and s.tag == node.tag]
    key = f"{tag}[{same.index(node) + 1}]" if len(same) > 1 else tag
    return f"{parent} › {key}" if parent else key


def _nested_properties(node, path: str, into: dict[str, _Property]) -> None:
    """Attributes and text of a node inside an element, flattened under its label `path`."""
    tag = _local(node)
    parameter = path.startswith("service parameter")
    for qualified, value in node.attrib.items():
        name = _attribute_name(node, qualified)
        if name is None or (name == "id" and tag != "serviceTaskOperator"):
            continue  # nested ids are labels; a service operator's id is the operator itself
        if name == "id":
            into[path] = _Property(value.strip())
        elif parameter and name == "value":
            into[path] = _Property(value.strip(), expression=True)
        else:
            into[f"{path} › {name}"] = _Property(value.strip())
    text = (node.text or "").strip()
    if text:
        into[EXPRESSIONS.get(tag, path)] = _Property(text, tag in EXPRESSIONS)
    _nested_children(node, "" if tag in TRANSPARENT else path, into)


def _nested_children(node, path: str, into: dict[str, _Property]) -> None:
    children = [c for c in node if isinstance(c.tag, str)]
    for child in children:
        if _local(child) in TRANSPARENT:
            _nested_children(child, path, into)
        else:
            _nested_properties(child, _label(path, child, children), into)


def _element(node, lanes: dict[str, str]) -> _Element:
    properties: dict[str, _Property] = {}
    for qualified, value in node.attrib.items():
        name = _attribute_name(node, qualified)
        if name is not None and name not in ("id", "name"):
            properties[name] = _Property(value)
    if node.get("id") in lanes:
        properties["lane"] = _Property(lanes[node.get("id")])
    container = _local(node) in CONTAINERS
    children = [c for c in node if isinstance(c.tag, str)]
    for child in children:
        if _local(child) in SKIPPED_CHILDREN | LANE_SETS:
            continue
        if container and _is_bpmn(child) and child.get("id"):
            continue  # listed as an element of its own
        if _local(child) in TRANSPARENT:
            _nested_children(child, "", properties)
        else:
            _nested_properties(child, _label("", child, children), properties)
    return _Element(node.get("id"), _local(node), node.get("name"), properties)


def _lane_members(root) -> dict[str, str]:
    """Flow node id -> the name (else id) of the innermost lane holding it."""
    members = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            members[(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    return members


def _walk(node, lanes, into: dict[str, _Element]) -> None:
    for child in node:
        if not _is_bpmn(child):
            continue  # diagram layout (bpmndi) and vendor extensions at this level
        tag = _local(child)
        if tag in LANE_SETS:
            _walk(child, lanes, into)
            continue
        if child.get("id"):
            into[child.get("id")] = _element(child, lanes)
        if tag in CONTAINERS or tag == "lane":  # a lane's children: its childLaneSet
            _walk(child, lanes, into)


def _elements(xml: str | bytes) -> dict[str, _Element]:
    data = xml.encode() if isinstance(xml, str) else xml
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    found: dict[str, _Element] = {}
    _walk(root, _lane_members(root), found)
    return found


def _entry(element: _Element, changes: list[Change]) -> ElementChange:
    return ElementChange(element.id, element.tag, element.name, tuple(changes))


def diff_workflows(old_xml: str | bytes | None, new_xml: str | bytes) -> WorkflowDiff:
    """Elements added, removed and changed from `old_xml` (None: nothing yet) to `new_xml`,
    in document order."""
    old, new = _elements(old_xml) if old_xml is not None else {}, _elements(new_xml)
    diff = WorkflowDiff()
    for element_id, element in new.items():
        before = old.get(element_id)
        if before is None:
            changes = [Change("name", None, element.name)] if element.name else []
            changes += [
                Change(k, None, p.value, p.expression) for k, p in element.properties.items()
            ]
            diff.added.append(_entry(element, changes))
            continue
        changes = []
        if before.tag != element.tag:
            changes.append(Change("type", before.tag, element.tag))
        if before.name != element.name:
            changes.append(Change("name", before.name, element.name))
        for key in [
            *before.properties,
            *(k for k in element.properties if k not in before.properties),
        ]:
            was, now = before.properties.get(key), element.properties.get(key)
            if was != now:
                expression = bool((was and was.expression) or (now and now.expression))
                changes.append(
                    Change(key, was.value if was else None, now.value if now else None, expression)
                )
        if changes:
            diff.changed.append(_entry(element, changes))
    for element_id, element in old.items():
        if element_id not in new:
            changes = [Change("name", element.name, None)] if element.name else []
            changes += [
                Change(k, p.value, None, p.expression) for k, p in element.properties.items()
            ]
            diff.removed.append(_entry(element, changes))
    return diff
