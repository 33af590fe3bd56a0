/*
 * The NDIS 6.0 miniport interface xennet uses, declared by the project
 * from Microsoft's documentation of ndis.h (mingw-w64's ndis.h is NDIS 5
 * and does not compile).  The objects Microsoft puts in ntddndis.h
 * (NDIS_OBJECT_HEADER, NDIS_OFFLOAD, NDIS_LINK_STATE, OIDs, ...) come
 * from mingw-w64's own ntddndis.h, which does.  Layouts are those of
 * Windows Vista (NDIS 6.0) and later; every structure that crosses into
 * NDIS has its size and key offsets asserted for x64 and x86 below, with
 * numbers taken from the layouts Windows' own symbols record.
 *
 * Calling conventions on x86: miniport handlers and NDIS functions are
 * __stdcall (NTAPI).
 */
#ifndef GPLPV_NDIS6_DECLS_H
#define GPLPV_NDIS6_DECLS_H

#include "gplpv_win.h"

#ifndef NDIS_SUPPORT_NDIS6
#define NDIS_SUPPORT_NDIS6 1
#endif
#include <ntddndis.h>

#ifdef _WIN64
#define NDIS_LAYOUT(x64, x86) (x64)
#define NDIS_ALIGN __attribute__((aligned(16)))
#else
#define NDIS_LAYOUT(x64, x86) (x86)
#define NDIS_ALIGN __attribute__((aligned(8)))
#endif

typedef int NDIS_STATUS;
typedef unsigned int UINT;
typedef PVOID NDIS_HANDLE;
typedef ULONG NDIS_PORT_NUMBER;

#define NDIS_STATUS_SUCCESS          ((NDIS_STATUS)0x00000000L)
#define NDIS_STATUS_PENDING          ((NDIS_STATUS)0x00000103L)
#define NDIS_STATUS_FAILURE          ((NDIS_STATUS)0xC0000001L)
#define NDIS_STATUS_RESOURCES        ((NDIS_STATUS)0xC000009AL)
#define NDIS_STATUS_NOT_SUPPORTED    ((NDIS_STATUS)0xC00000BBL)
#define NDIS_STATUS_INVALID_LENGTH   ((NDIS_STATUS)0xC0010014L)
#define NDIS_STATUS_INVALID_DATA     ((NDIS_STATUS)0xC0010015L)
#define NDIS_STATUS_BUFFER_TOO_SHORT ((NDIS_STATUS)0xC0010016L)
#define NDIS_STATUS_INVALID_OID      ((NDIS_STATUS)0xC0010017L)
#define NDIS_STATUS_ADAPTER_REMOVED  ((NDIS_STATUS)0xC0010018L)
#define NDIS_STATUS_REQUEST_ABORTED  ((NDIS_STATUS)0xC001000CL)
#define NDIS_STATUS_PAUSED           ((NDIS_STATUS)0xC023002AL)
#define NDIS_STATUS_SEND_ABORTED     ((NDIS_STATUS)0xC023000CL)
#define NDIS_STATUS_LINK_STATE       ((NDIS_STATUS)0x40010017L)
#define NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG ((NDIS_STATUS)0x40020006L)
#define NDIS_STATUS_MULTICAST_FULL   ((NDIS_STATUS)0xC0010009L)
#define NDIS_STATUS_INVALID_PARAMETER ((NDIS_STATUS)0xC000000DL)
#ifndef NET_IF_LINK_SPEED_UNKNOWN
#define NET_IF_LINK_SPEED_UNKNOWN ((ULONG64)-1)
#endif

/* ---- NET_BUFFER and NET_BUFFER_LIST ------------------------------------ */
typedef struct _NET_BUFFER NET_BUFFER, *PNET_BUFFER;
typedef struct _NET_BUFFER_LIST NET_BUFFER_LIST, *PNET_BUFFER_LIST;

struct _NET_BUFFER {
    union {
        struct {
            PNET_BUFFER Next;
            PMDL CurrentMdl;
            ULONG CurrentMdlOffset;
            union {
                ULONG DataLength;
                SIZE_T stDataLength;
            };
            PMDL MdlChain;
            ULONG DataOffset;
        };
        SLIST_HEADER Link;
    };
    USHORT ChecksumBias;
    USHORT Reserved;
    NDIS_HANDLE NdisPoolHandle;
    NDIS_ALIGN PVOID NdisReserved[2];
    NDIS_ALIGN PVOID ProtocolReserved[6];
    NDIS_ALIGN PVOID MiniportReserved[4];
    PHYSICAL_ADDRESS DataPhysicalAddress;
};

_Static_assert(offsetof(NET_BUFFER, CurrentMdl) == NDIS_LAYOUT(0x08, 0x04), "NB CurrentMdl");
_Static_assert(offsetof(NET_BUFFER, CurrentMdlOffset) == NDIS_LAYOUT(0x10, 0x08), "NB CurrentMdlOffset");
_Static_assert(offsetof(NET_BUFFER, DataLength) == NDIS_LAYOUT(0x18, 0x0c), "NB DataLength");
_Static_assert(offsetof(NET_BUFFER, MdlChain) == NDIS_LAYOUT(0x20, 0x10), "NB MdlChain");
_Static_assert(offsetof(NET_BUFFER, DataOffset) == NDIS_LAYOUT(0x28, 0x14), "NB DataOffset");
_Static_assert(offsetof(NET_BUFFER, ChecksumBias) == NDIS_LAYOUT(0x30, 0x18), "NB ChecksumBias");
_Static_assert(offsetof(NET_BUFFER, NdisPoolHandle) == NDIS_LAYOUT(0x38, 0x1c), "NB NdisPoolHandle");
_Static_assert(offsetof(NET_BUFFER, ProtocolReserved) == NDIS_LAYOUT(0x50, 0x28), "NB ProtocolReserved");
_Static_assert(offsetof(NET_BUFFER, MiniportReserved) == NDIS_LAYOUT(0x80, 0x40), "NB MiniportReserved");
_Static_assert(offsetof(NET_BUFFER, DataPhysicalAddress) == NDIS_LAYOUT(0xa0, 0x50), "NB DataPhysicalAddress");

/* NET_BUFFER_LIST_INFO indices (NetBufferListInfo[]). */
#define TcpIpChecksumNetBufferListInfo 0
#define TcpLargeSendNetBufferListInfo  2
#define Ieee8021QNetBufferListInfo     4
#define NetBufferListCancelId          5

struct _NET_BUFFER_LIST {
    union {
        struct {
            PNET_BUFFER_LIST Next;
            PNET_BUFFER FirstNetBuffer;
        };
        SLIST_HEADER Link;
    };
    PVOID Context;
    PNET_BUFFER_LIST ParentNetBufferList;
    NDIS_HANDLE NdisPoolHandle;
    NDIS_ALIGN PVOID NdisReserved[2];
    NDIS_ALIGN PVOID ProtocolReserved[4];
    NDIS_ALIGN PVOID MiniportReserved[2];
    PVOID Scratch;
    NDIS_HANDLE SourceHandle;
    ULONG NblFlags;
    LONG ChildRefCount;
    ULONG Flags;
    NDIS_STATUS Status;
    PVOID NetBufferListInfo[12];        /* NDIS 6.0 has 12; later versions more */
};

_Static_assert(offsetof(NET_BUFFER_LIST, FirstNetBuffer) == NDIS_LAYOUT(0x08, 0x04), "NBL FirstNetBuffer");
_Static_assert(offsetof(NET_BUFFER_LIST, Context) == NDIS_LAYOUT(0x10, 0x08), "NBL Context");
_Static_assert(offsetof(NET_BUFFER_LIST, NdisPoolHandle) == NDIS_LAYOUT(0x20, 0x10), "NBL NdisPoolHandle");
_Static_assert(offsetof(NET_BUFFER_LIST, NdisReserved) == NDIS_LAYOUT(0x30, 0x18), "NBL NdisReserved");
_Static_assert(offsetof(NET_BUFFER_LIST, ProtocolReserved) == NDIS_LAYOUT(0x40, 0x20), "NBL ProtocolReserved");
_Static_assert(offsetof(NET_BUFFER_LIST, MiniportReserved) == NDIS_LAYOUT(0x60, 0x30), "NBL MiniportReserved");
_Static_assert(offsetof(NET_BUFFER_LIST, SourceHandle) == NDIS_LAYOUT(0x78, 0x3c), "NBL SourceHandle");
_Static_assert(offsetof(NET_BUFFER_LIST, Status) == NDIS_LAYOUT(0x8c, 0x4c), "NBL Status");
_Static_assert(offsetof(NET_BUFFER_LIST, NetBufferListInfo) == NDIS_LAYOUT(0x90, 0x50), "NBL Info");

/* NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO, as bits of the pointer-sized
 * value (transmit and receive views). */
#define NDIS_CSUM_TX_IS_IPV4       (1u << 0)
#define NDIS_CSUM_TX_IS_IPV6       (1u << 1)
#define NDIS_CSUM_TX_TCP           (1u << 2)
#define NDIS_CSUM_TX_UDP           (1u << 3)
#define NDIS_CSUM_TX_IP_HEADER     (1u << 4)
#define NDIS_CSUM_TX_TCP_OFFSET(v) (((v) >> 16) & 0x3ffu)
#define NDIS_CSUM_RX_TCP_FAILED    (1u << 0)
#define NDIS_CSUM_RX_UDP_FAILED    (1u << 1)
#define NDIS_CSUM_RX_IP_FAILED     (1u << 2)
#define NDIS_CSUM_RX_TCP_OK        (1u << 3)
#define NDIS_CSUM_RX_UDP_OK        (1u << 4)
#define NDIS_CSUM_RX_IP_OK         (1u << 5)
/* NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO: MSS in bits 0-19,
 * TCP header offset 20-29, type (0 = LSO v1, 1 = v2) bit 30, IP version
 * for v2 (0 = IPv4, 1 = IPv6) bit 31; on completion of v1, the TCP
 * payload sent in bits 0-29. */
#define NDIS_LSO_MSS(v)        ((v) & 0xfffffu)
#define NDIS_LSO_TCP_OFFSET(v) (((v) >> 20) & 0x3ffu)
#define NDIS_LSO_IS_V2(v)      (((v) >> 30) & 1u)
#define NDIS_LSO_V2_IPV6(v)    (((v) >> 31) & 1u)
#define NDIS_LSO_V1_PAYLOAD(n) ((ULONG)(n) & 0x3fffffffu)
/* On completion of LSO v2 the miniport writes LsoV2TransmitComplete:
 * Type = NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE (1), Reserved (bits 0-29) 0. */
#define NDIS_LSO_V2_COMPLETE   ((ULONG_PTR)1u << 30)

#define NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL 0x00000001
#define NDIS_RECEIVE_FLAGS_RESOURCES      0x00000002
#define NDIS_SEND_FLAGS_DISPATCH_LEVEL    0x00000001
#define NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL 0x00000001
#define NDIS_RETURN_FLAGS_DISPATCH_LEVEL  0x00000001

typedef struct _NET_BUFFER_LIST_POOL_PARAMETERS {
    NDIS_OBJECT_HEADER Header;
    UCHAR ProtocolId;
    BOOLEAN fAllocateNetBuffer;
    USHORT ContextSize;
    ULONG PoolTag;
    ULONG DataSize;
} NET_BUFFER_LIST_POOL_PARAMETERS;
_Static_assert(sizeof(NET_BUFFER_LIST_POOL_PARAMETERS) == 0x10, "NBL pool parameters");

/* ---- OID requests and status indications ------------------------------ */
/* RequestType: NDIS_REQUEST_TYPE of ntddndis.h (NdisRequestQueryInformation,
 * NdisRequestSetInformation, NdisRequestQueryStatistics, NdisRequestMethod). */
typedef struct _NDIS_OID_REQUEST {
    NDIS_OBJECT_HEADER Header;
    ULONG RequestType;
    NDIS_PORT_NUMBER PortNumber;
    UINT Timeout;
    PVOID RequestId;
    NDIS_HANDLE RequestHandle;
    union {
        struct {
            NDIS_OID Oid;
            PVOID InformationBuffer;
            UINT InformationBufferLength;
            UINT BytesWritten;
            UINT BytesNeeded;
        } QUERY_INFORMATION;
        struct {
            NDIS_OID Oid;
            PVOID InformationBuffer;
            UINT InformationBufferLength;
            UINT BytesRead;
            UINT BytesNeeded;
        } SET_INFORMATION;
        struct {
            NDIS_OID Oid;
            PVOID InformationBuffer;
            ULONG InputBufferLength;
            ULONG OutputBufferLength;
            ULONG MethodId;
            UINT BytesWritten;
            UINT BytesRead;
            UINT BytesNeeded;
        } METHOD_INFORMATION;
    } DATA;
    UCHAR NdisReserved[16 * sizeof(PVOID)];
    UCHAR MiniportReserved[2 * sizeof(PVOID)];
    UCHAR SourceReserved[2 * sizeof(PVOID)];
    UCHAR SupportedRevision;
    UCHAR Reserved1;
    USHORT Reserved2;
} NDIS_OID_REQUEST, *PNDIS_OID_REQUEST;

_Static_assert(offsetof(NDIS_OID_REQUEST, RequestId) == NDIS_LAYOUT(0x10, 0x10), "OID RequestId");
_Static_assert(offsetof(NDIS_OID_REQUEST, DATA) == NDIS_LAYOUT(0x20, 0x18), "OID DATA");
_Static_assert(offsetof(NDIS_OID_REQUEST, DATA.QUERY_INFORMATION.InformationBufferLength) ==
               NDIS_LAYOUT(0x30, 0x20), "OID InformationBufferLength");
_Static_assert(offsetof(NDIS_OID_REQUEST, DATA.QUERY_INFORMATION.BytesNeeded) == NDIS_LAYOUT(0x38, 0x28),
               "OID BytesNeeded");
_Static_assert(offsetof(NDIS_OID_REQUEST, NdisReserved) == NDIS_LAYOUT(0x48, 0x38), "OID NdisReserved");
_Static_assert(sizeof(NDIS_OID_REQUEST) == NDIS_LAYOUT(0xf0, 0x8c), "OID size");

typedef struct _NDIS_STATUS_INDICATION {
    NDIS_OBJECT_HEADER Header;
    NDIS_HANDLE SourceHandle;
    NDIS_PORT_NUMBER PortNumber;
    NDIS_STATUS StatusCode;
    ULONG Flags;
    NDIS_HANDLE DestinationHandle;
    PVOID RequestId;
    PVOID StatusBuffer;
    ULONG StatusBufferSize;
    GUID Guid;
    PVOID NdisReserved[4];
} NDIS_STATUS_INDICATION, *PNDIS_STATUS_INDICATION;
#define NDIS_STATUS_INDICATION_REVISION_1 1
_Static_assert(offsetof(NDIS_STATUS_INDICATION, StatusCode) == NDIS_LAYOUT(0x14, 0x0c), "SI StatusCode");
_Static_assert(offsetof(NDIS_STATUS_INDICATION, StatusBuffer) == NDIS_LAYOUT(0x30, 0x1c), "SI StatusBuffer");
_Static_assert(sizeof(NDIS_STATUS_INDICATION) == NDIS_LAYOUT(0x70, 0x44), "SI size");

_Static_assert(sizeof(NDIS_LINK_STATE) == 0x28, "NDIS_LINK_STATE (ntddndis.h)");
_Static_assert(offsetof(NDIS_OFFLOAD, Flags) == 0x6c, "NDIS_OFFLOAD Flags (ntddndis.h)");
_Static_assert(offsetof(NDIS_OFFLOAD, LsoV2) == 0x50, "NDIS_OFFLOAD LsoV2 (ntddndis.h)");
_Static_assert(NDIS_SIZEOF_NDIS_OFFLOAD_REVISION_1 == 0x70, "NDIS_OFFLOAD revision 1 size");
_Static_assert(NDIS_SIZEOF_LINK_STATE_REVISION_1 == 0x28, "NDIS_LINK_STATE revision 1 size");

/* OID_OFFLOAD_ENCAPSULATION's buffer. */
typedef struct _NDIS_OFFLOAD_ENCAPSULATION {
    NDIS_OBJECT_HEADER Header;
    struct {
        ULONG Enabled;
        ULONG EncapsulationType;
        ULONG HeaderSize;
    } IPv4, IPv6;
} NDIS_OFFLOAD_ENCAPSULATION;
_Static_assert(sizeof(NDIS_OFFLOAD_ENCAPSULATION) == 0x1c, "NDIS_OFFLOAD_ENCAPSULATION size");

/* ---- miniport registration ----------------------------------------------- */
typedef struct _NDIS_MINIPORT_INIT_PARAMETERS NDIS_MINIPORT_INIT_PARAMETERS, *PNDIS_MINIPORT_INIT_PARAMETERS;
typedef struct _NDIS_MINIPORT_PAUSE_PARAMETERS NDIS_MINIPORT_PAUSE_PARAMETERS, *PNDIS_MINIPORT_PAUSE_PARAMETERS;
typedef struct _NDIS_MINIPORT_RESTART_PARAMETERS NDIS_MINIPORT_RESTART_PARAMETERS, *PNDIS_MINIPORT_RESTART_PARAMETERS;
typedef struct _NET_DEVICE_PNP_EVENT {
    NDIS_OBJECT_HEADER Header;
    NDIS_PORT_NUMBER PortNumber;
    ULONG DevicePnPEvent;               /* NDIS_DEVICE_PNP_EVENT: QueryRemoved 0, Removed 1,
                                           SurpriseRemoved 2, ... */
    PVOID InformationBuffer;
    ULONG InformationBufferLength;
    UCHAR NdisReserved[2 * sizeof(PVOID)];
} NET_DEVICE_PNP_EVENT, *PNET_DEVICE_PNP_EVENT;
/* Windows' value (ntddndis.h's NDIS_DEVICE_PNP_EVENT, and the PDB layouts):
 * 1 is NdisDevicePnPEventRemoved.  The kernel host found the 1 this had:
 * xennet ignored surprise removal and kept sending to a removed backend. */
#define NdisDevicePnPEventSurpriseRemoved 2

typedef NDIS_STATUS (NTAPI *MINIPORT_SET_OPTIONS)(NDIS_HANDLE, NDIS_HANDLE);
typedef NDIS_STATUS (NTAPI *MINIPORT_INITIALIZE)(NDIS_HANDLE, NDIS_HANDLE, PNDIS_MINIPORT_INIT_PARAMETERS);
typedef VOID (NTAPI *MINIPORT_HALT)(NDIS_HANDLE, ULONG);
typedef VOID (NTAPI *MINIPORT_UNLOAD)(PDRIVER_OBJECT);
typedef NDIS_STATUS (NTAPI *MINIPORT_PAUSE)(NDIS_HANDLE, PNDIS_MINIPORT_PAUSE_PARAMETERS);
typedef NDIS_STATUS (NTAPI *MINIPORT_RESTART)(NDIS_HANDLE, PNDIS_MINIPORT_RESTART_PARAMETERS);
typedef NDIS_STATUS (NTAPI *MINIPORT_OID_REQUEST)(NDIS_HANDLE, PNDIS_OID_REQUEST);
typedef VOID (NTAPI *MINIPORT_SEND_NET_BUFFER_LISTS)(NDIS_HANDLE, PNET_BUFFER_LIST, NDIS_PORT_NUMBER, ULONG);
typedef VOID (NTAPI *MINIPORT_RETURN_NET_BUFFER_LISTS)(NDIS_HANDLE, PNET_BUFFER_LIST, ULONG);
typedef VOID (NTAPI *MINIPORT_CANCEL_SEND)(NDIS_HANDLE, PVOID);
typedef BOOLEAN (NTAPI *MINIPORT_CHECK_FOR_HANG)(NDIS_HANDLE);
typedef NDIS_STATUS (NTAPI *MINIPORT_RESET)(NDIS_HANDLE, PBOOLEAN);
typedef VOID (NTAPI *MINIPORT_DEVICE_PNP_EVENT_NOTIFY)(NDIS_HANDLE, PNET_DEVICE_PNP_EVENT);
typedef VOID (NTAPI *MINIPORT_SHUTDOWN)(NDIS_HANDLE, ULONG);
typedef VOID (NTAPI *MINIPORT_CANCEL_OID_REQUEST)(NDIS_HANDLE, PVOID);

typedef struct _NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    NDIS_OBJECT_HEADER Header;
    UCHAR MajorNdisVersion;
    UCHAR MinorNdisVersion;
    UCHAR MajorDriverVersion;
    UCHAR MinorDriverVersion;
    ULONG Flags;
    MINIPORT_SET_OPTIONS SetOptionsHandler;
    MINIPORT_INITIALIZE InitializeHandlerEx;
    MINIPORT_HALT HaltHandlerEx;
    MINIPORT_UNLOAD UnloadHandler;
    MINIPORT_PAUSE PauseHandler;
    MINIPORT_RESTART RestartHandler;
    MINIPORT_OID_REQUEST OidRequestHandler;
    MINIPORT_SEND_NET_BUFFER_LISTS SendNetBufferListsHandler;
    MINIPORT_RETURN_NET_BUFFER_LISTS ReturnNetBufferListsHandler;
    MINIPORT_CANCEL_SEND CancelSendHandler;
    MINIPORT_CHECK_FOR_HANG CheckForHangHandlerEx;
    MINIPORT_RESET ResetHandlerEx;
    MINIPORT_DEVICE_PNP_EVENT_NOTIFY DevicePnPEventNotifyHandler;
    MINIPORT_SHUTDOWN ShutdownHandlerEx;
    MINIPORT_CANCEL_OID_REQUEST CancelOidRequestHandler;
} NDIS_MINIPORT_DRIVER_CHARACTERISTICS;
#define NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1 1
_Static_assert(offsetof(NDIS_MINIPORT_DRIVER_CHARACTERISTICS, SetOptionsHandler) == NDIS_LAYOUT(0x10, 0x0c),
               "MDC SetOptionsHandler");
_Static_assert(sizeof(NDIS_MINIPORT_DRIVER_CHARACTERISTICS) == NDIS_LAYOUT(0x88, 0x48), "MDC size");

typedef struct _NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    NDIS_OBJECT_HEADER Header;
    NDIS_HANDLE MiniportAdapterContext;
    ULONG AttributeFlags;
    UINT CheckForHangTimeInSeconds;
    ULONG InterfaceType;                /* NDIS_INTERFACE_TYPE */
} NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES;
#define NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1 NDIS_LAYOUT(0x1c, 0x14)
_Static_assert(offsetof(NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, InterfaceType) + 4 ==
               NDIS_SIZEOF_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1, "MARA size");
#define NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE    0x00000001
#define NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK 0x00000004
#define NDIS_MINIPORT_ATTRIBUTES_NOT_CO_NDIS        0x00000008
#define NdisInterfaceInternal 0

typedef struct _NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    NDIS_OBJECT_HEADER Header;
    ULONG Flags;
    NDIS_MEDIUM MediaType;
    NDIS_PHYSICAL_MEDIUM PhysicalMediumType;
    ULONG MtuSize;
    ULONG64 MaxXmitLinkSpeed;
    ULONG64 XmitLinkSpeed;
    ULONG64 MaxRcvLinkSpeed;
    ULONG64 RcvLinkSpeed;
    NDIS_MEDIA_CONNECT_STATE MediaConnectState;
    NDIS_MEDIA_DUPLEX_STATE MediaDuplexState;
    ULONG LookaheadSize;
    PVOID PowerManagementCapabilities;
    ULONG MacOptions;
    ULONG SupportedPacketFilters;
    ULONG MaxMulticastListSize;
    USHORT MacAddressLength;
    UCHAR PermanentMacAddress[32];
    UCHAR CurrentMacAddress[32];
    PVOID RecvScaleCapabilities;
    ULONG AccessType;                   /* NET_IF_ACCESS_TYPE */
    ULONG DirectionType;                /* NET_IF_DIRECTION_TYPE */
    ULONG ConnectionType;               /* NET_IF_CONNECTION_TYPE */
    USHORT IfType;                      /* NET_IFTYPE */
    BOOLEAN IfConnectorPresent;
    ULONG SupportedStatistics;
    ULONG SupportedPauseFunctions;
    ULONG DataBackFillSize;
    ULONG ContextBackFillSize;
    NDIS_OID *SupportedOidList;
    ULONG SupportedOidListLength;
    ULONG AutoNegotiationFlags;
} NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES;
#define NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1 NDIS_LAYOUT(0xd8, 0xc8)
_Static_assert(offsetof(NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, MaxMulticastListSize) ==
               NDIS_LAYOUT(0x58, 0x50), "MAGA MaxMulticastListSize");
_Static_assert(offsetof(NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, CurrentMacAddress) ==
               NDIS_LAYOUT(0x7e, 0x76), "MAGA CurrentMacAddress");
_Static_assert(offsetof(NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, IfType) == NDIS_LAYOUT(0xb4, 0xa8),
               "MAGA IfType");
_Static_assert(offsetof(NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, SupportedOidList) ==
               NDIS_LAYOUT(0xc8, 0xbc), "MAGA SupportedOidList");
_Static_assert(offsetof(NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, AutoNegotiationFlags) + 4 ==
               NDIS_SIZEOF_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1, "MAGA size");

typedef struct _NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES {
    NDIS_OBJECT_HEADER Header;
    PNDIS_OFFLOAD DefaultOffloadConfiguration;
    PNDIS_OFFLOAD HardwareOffloadCapabilities;
    PVOID DefaultTcpConnectionOffloadConfiguration;
    PVOID TcpConnectionOffloadHardwareCapabilities;
} NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES;
_Static_assert(sizeof(NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES) == NDIS_LAYOUT(0x28, 0x14), "MAOA size");

typedef union _NDIS_MINIPORT_ADAPTER_ATTRIBUTES {
    NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES RegistrationAttributes;
    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES GeneralAttributes;
    NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES OffloadAttributes;
} NDIS_MINIPORT_ADAPTER_ATTRIBUTES, *PNDIS_MINIPORT_ADAPTER_ATTRIBUTES;

#define NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_1 1
#define NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_1 1
#define NDIS_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES_REVISION_1 1
_Static_assert(NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES == 0x9E, "object type");
_Static_assert(NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES == 0x9F, "object type");
_Static_assert(NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES == 0xA0, "object type");
_Static_assert(NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS == 0x8A, "object type");
_Static_assert(NDIS_OBJECT_TYPE_STATUS_INDICATION == 0x98, "object type");
_Static_assert(NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT == 0xA9, "object type");
_Static_assert(NDIS_OBJECT_TYPE_DEFAULT == 0x80, "object type");

/* ---- configuration (advanced properties) ---------------------------------- */
typedef struct _NDIS_CONFIGURATION_OBJECT {
    NDIS_OBJECT_HEADER Header;
    NDIS_HANDLE NdisHandle;
    ULONG Flags;
} NDIS_CONFIGURATION_OBJECT;
typedef enum _NDIS_PARAMETER_TYPE_6 {
    NdisParameterInteger_6 = 0,
    NdisParameterHexInteger_6 = 1,
    NdisParameterString_6 = 2,
} NDIS_PARAMETER_TYPE_6;
typedef struct _NDIS_CONFIGURATION_PARAMETER {
    ULONG ParameterType;
    union {
        ULONG IntegerData;
        UNICODE_STRING StringData;
    } ParameterData;
} NDIS_CONFIGURATION_PARAMETER, *PNDIS_CONFIGURATION_PARAMETER;

/* ---- NDIS functions -------------------------------------------------------- */
#define NDIS6_API __declspec(dllimport)
NDIS6_API NDIS_STATUS NTAPI NdisMRegisterMiniportDriver(PDRIVER_OBJECT, PUNICODE_STRING, NDIS_HANDLE,
                                                        NDIS_MINIPORT_DRIVER_CHARACTERISTICS *,
                                                        NDIS_HANDLE *);
NDIS6_API VOID NTAPI NdisMDeregisterMiniportDriver(NDIS_HANDLE);
NDIS6_API NDIS_STATUS NTAPI NdisMSetMiniportAttributes(NDIS_HANDLE, PNDIS_MINIPORT_ADAPTER_ATTRIBUTES);
NDIS6_API NDIS_HANDLE NTAPI NdisAllocateNetBufferListPool(NDIS_HANDLE, NET_BUFFER_LIST_POOL_PARAMETERS *);
NDIS6_API VOID NTAPI NdisFreeNetBufferListPool(NDIS_HANDLE);
NDIS6_API PNET_BUFFER_LIST NTAPI NdisAllocateNetBufferAndNetBufferList(NDIS_HANDLE, USHORT, USHORT, PMDL,
                                                                       ULONG, SIZE_T);
NDIS6_API VOID NTAPI NdisFreeNetBufferList(PNET_BUFFER_LIST);
NDIS6_API PMDL NTAPI NdisAllocateMdl(NDIS_HANDLE, PVOID, UINT);
NDIS6_API VOID NTAPI NdisFreeMdl(PMDL);
NDIS6_API VOID NTAPI NdisMIndicateReceiveNetBufferLists(NDIS_HANDLE, PNET_BUFFER_LIST, NDIS_PORT_NUMBER,
                                                        ULONG, ULONG);
NDIS6_API VOID NTAPI NdisMSendNetBufferListsComplete(NDIS_HANDLE, PNET_BUFFER_LIST, ULONG);
NDIS6_API VOID NTAPI NdisMIndicateStatusEx(NDIS_HANDLE, PNDIS_STATUS_INDICATION);
NDIS6_API VOID NTAPI NdisMGetDeviceProperty(NDIS_HANDLE, PDEVICE_OBJECT *, PDEVICE_OBJECT *,
                                            PDEVICE_OBJECT *, PVOID, PVOID);
NDIS6_API NDIS_STATUS NTAPI NdisOpenConfigurationEx(NDIS_CONFIGURATION_OBJECT *, NDIS_HANDLE *);
NDIS6_API VOID NTAPI NdisReadConfiguration(NDIS_STATUS *, PNDIS_CONFIGURATION_PARAMETER *, NDIS_HANDLE,
                                           PUNICODE_STRING, ULONG);
NDIS6_API VOID NTAPI NdisCloseConfiguration(NDIS_HANDLE);
NDIS6_API VOID NTAPI NdisMOidRequestComplete(NDIS_HANDLE, PNDIS_OID_REQUEST, NDIS_STATUS);

#endif
