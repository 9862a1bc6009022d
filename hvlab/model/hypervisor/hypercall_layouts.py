"""The input and output blocks of the hypercalls the model implements, field by field at the
offsets of Linux's Hyper-V headers (`include/hyperv/hvgdk_mini.h`, `hvhdk.h`, `hvhdk_mini.h`),
which follow the TLFS. A rep call's block is followed by its elements (`*_ELEM`).

Where the model gives a real field a meaning of its own, the field's comment says so (the only
case: CreatePartition's flags carry the size of the GPA space, which a real root sets with
SetPartitionProperty).
"""

from __future__ import annotations

from hvlab.model.core.wire import Struct, le, raw

HVGDK = "include/hyperv/hvgdk_mini.h"
HVHDK = "include/hyperv/hvhdk.h"
HVHDK_MINI = "include/hyperv/hvhdk_mini.h"

CREATE_PARTITION = Struct(
    "hv_input_create_partition",
    56,
    le("flags", 0, 8),  # model: bits 15:0 the GPA space in pages (0: the default)
    le("proximity_domain_info", 8, 8),
    le("compatibility_version", 16, 4),
    raw("partition_creation_properties", 24, 24),
    le("isolation_properties", 48, 8),
    source=HVHDK,
)
PARTITION_ID = Struct("hv_input_initialize_partition", 8, le("partition_id", 0, 8), source=HVHDK)
FINALIZE_PARTITION = Struct(
    "hv_input_finalize_partition", 8, le("partition_id", 0, 8), source=HVHDK
)
DELETE_PARTITION = Struct("hv_input_delete_partition", 8, le("partition_id", 0, 8), source=HVHDK)
GET_PARTITION_ID_OUT = Struct(
    "hv_output_get_partition_id", 8, le("partition_id", 0, 8), source=HVGDK
)
DEPOSIT_MEMORY = Struct("hv_input_deposit_memory", 8, le("partition_id", 0, 8), source=HVHDK)
WITHDRAW_MEMORY = Struct(
    "hv_input_withdraw_memory",
    16,
    le("partition_id", 0, 8),
    le("proximity_domain_info", 8, 8),
    source=HVHDK,
)
GPA_PAGE = Struct("gpa_page_number", 8, le("gpa_page_number", 0, 8), source=HVHDK)
MAP_GPA_PAGES = Struct(
    "hv_input_map_gpa_pages",
    24,
    le("target_partition_id", 0, 8),
    le("target_gpa_base", 8, 8),
    le("map_flags", 16, 4),
    le("padding", 20, 4),
    source=HVHDK,
)
UNMAP_GPA_PAGES = Struct(
    "hv_input_unmap_gpa_pages",
    24,
    le("target_partition_id", 0, 8),
    le("target_gpa_base", 8, 8),
    le("unmap_flags", 16, 4),
    le("padding", 20, 4),
    source=HVHDK,
)
INSTALL_INTERCEPT = Struct(
    "hv_input_install_intercept",
    24,
    le("partition_id", 0, 8),
    le("access_type", 8, 4),
    le("intercept_type", 12, 4),
    le("intercept_parameter", 16, 8),
    source=HVHDK,
)
CREATE_VP = Struct(
    "hv_input_create_vp",
    40,
    le("partition_id", 0, 8),
    le("vp_index", 8, 4),
    le("subnode_type", 15, 1),
    le("subnode_id", 16, 8),
    le("proximity_domain_info", 24, 8),
    le("flags", 32, 8),
    source=HVHDK,
)
DELETE_VP = Struct(
    "hv_input_delete_vp", 16, le("partition_id", 0, 8), le("vp_index", 8, 4), source=HVHDK
)
VP_REGISTERS = Struct(
    "hv_input_get_vp_registers",
    16,
    le("partition_id", 0, 8),
    le("vp_index", 8, 4),
    le("input_vtl", 12, 1),
    source=HVGDK,
)
SET_VP_REGISTERS = Struct(
    "hv_input_set_vp_registers",
    16,
    le("partition_id", 0, 8),
    le("vp_index", 8, 4),
    le("input_vtl", 12, 1),
    source=HVGDK,
)
REGISTER_NAME = Struct("hv_register_name", 4, le("name", 0, 4), source=HVGDK)
REGISTER_VALUE = Struct("hv_register_value", 16, le("value", 0, 16), source=HVGDK)
REGISTER_ASSOC = Struct(
    "hv_register_assoc",
    32,
    le("name", 0, 4),
    le("reserved1", 4, 4),
    le("reserved2", 8, 8),
    le("value", 16, 16),
    source=HVGDK,
)
POST_MESSAGE = Struct(
    "hv_input_post_message",
    256,
    le("connectionid", 0, 4),
    le("reserved", 4, 4),
    le("message_type", 8, 4),
    le("payload_size", 12, 4),
    raw("payload", 16, 240),
    source=HVGDK,
)
SIGNAL_EVENT = Struct(
    "hv_input_signal_event",
    8,
    le("connectionid", 0, 4),
    le("flag_number", 4, 2),
    le("rsvdz", 6, 2),
    source="drivers/hv/hyperv_vmbus.h",
)
CREATE_PORT = Struct(
    "hv_input_create_port",
    56,
    le("port_partition_id", 0, 8),
    le("port_id", 8, 4),
    le("port_vtl", 12, 1),
    le("min_connection_vtl", 13, 1),
    le("connection_partition_id", 16, 8),
    le("port_info.port_type", 24, 4),
    le("port_info.message_port_info.target_sint", 32, 4),
    le("port_info.message_port_info.target_vp", 36, 4),
    le("port_info.event_port_info.base_flag_number", 40, 2),
    le("port_info.event_port_info.flag_count", 42, 2),
    le("proximity_domain_info", 48, 8),
    source=HVHDK,
)
CONNECT_PORT = Struct(
    "hv_input_connect_port",
    72,
    le("connection_partition_id", 0, 8),
    le("connection_id", 8, 4),
    le("connection_vtl", 12, 1),
    le("port_partition_id", 16, 8),
    le("port_id", 24, 4),
    le("connection_info.port_type", 32, 4),
    le("proximity_domain_info", 64, 8),
    source=HVHDK,
)
START_VP = Struct(
    "hv_input_start_virtual_processor",
    240,
    le("partition_id", 0, 8),
    le("vp_index", 8, 4),
    le("target_vtl", 12, 1),
    raw("vp_context", 16, 224),  # struct hv_init_vp_context: the model does not read it
    source="include/hyperv/hvgdk_mini.h (struct hv_enable_vp_vtl, the block of HVCALL_START_VP)",
)
FLUSH_ADDRESS_SPACE = Struct(
    "hv_tlb_flush",
    24,
    le("address_space", 0, 8),
    le("flags", 8, 8),
    le("processor_mask", 16, 8),
    source=HVGDK,
)
GVA_RANGE = Struct("gva_range", 8, le("gva_list", 0, 8), source=HVGDK)
WRITE_HYPERVISOR_MEMORY = Struct(
    "hvlab_write_hypervisor_memory",
    24,
    le("system_physical_address", 0, 8),
    le("value", 8, 8),
    source="model-only: the maintenance interface of the counterfactual design",
)
