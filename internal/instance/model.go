package instance

// Instance is one virtual machine as an inventory file describes it. The YAML keys are the
// names of the IMDS JSON document, so an inventory entry reads like the response it
// produces. Every metadata value is a string, as on the wire: booleans are "true" or
// "false" and numbers are decimal text. A value left out is served as "" and a list left
// out as [].
//
// An Instance must not be modified once Normalize has run (LoadFile, Generated and
// Generate run it): its trees are built on first use and shared by every request.
type Instance struct {
	// Name is the VM name (compute.name) and the instance's key in the inventory.
	Name     string   `yaml:"name"`
	Compute  Compute  `yaml:"compute,omitempty"`
	Network  Network  `yaml:"network,omitempty"`
	Extended Extended `yaml:"extended,omitempty"`
	// LoadBalancer is served at /metadata/loadbalancer; nil means the VM is not behind a
	// Standard load balancer.
	LoadBalancer *LoadBalancer `yaml:"loadBalancer,omitempty"`
	// Identity lists the managed identities the VM may get tokens for.
	Identity Identity `yaml:"identity,omitempty"`
	// Addresses are further source addresses (IPv4 or IPv6) that identify this VM as the
	// caller, besides the private addresses of its network interfaces.
	Addresses []string `yaml:"addresses,omitempty"`
	// Overrides replace values of the served tree after everything else, keyed by route
	// ("/compute/zone"). A route must name a value that exists at NewestVersion.
	Overrides map[string]string `yaml:"overrides,omitempty"`

	trees treeCache
}

// Compute is the compute section of /metadata/instance (reference §4.2.3), less the name,
// which is Instance.Name, and customData, which Azure always serves as "".
type Compute struct {
	AdditionalCapabilities     AdditionalCapabilities `yaml:"additionalCapabilities,omitempty"`
	AzEnvironment              string                 `yaml:"azEnvironment,omitempty"`
	EvictionPolicy             string                 `yaml:"evictionPolicy,omitempty"`
	ExtendedLocation           ExtendedLocation       `yaml:"extendedLocation,omitempty"`
	Host                       ResourceRef            `yaml:"host,omitempty"`
	HostGroup                  ResourceRef            `yaml:"hostGroup,omitempty"`
	IsHostCompatibilityLayerVM string                 `yaml:"isHostCompatibilityLayerVm,omitempty"`
	LicenseType                string                 `yaml:"licenseType,omitempty"`
	Location                   string                 `yaml:"location,omitempty"`
	Offer                      string                 `yaml:"offer,omitempty"`
	OSProfile                  OSProfile              `yaml:"osProfile,omitempty"`
	OSType                     string                 `yaml:"osType,omitempty"`
	PhysicalZone               string                 `yaml:"physicalZone,omitempty"`
	PlacementGroupID           string                 `yaml:"placementGroupId,omitempty"`
	Plan                       Plan                   `yaml:"plan,omitempty"`
	PlatformFaultDomain        string                 `yaml:"platformFaultDomain,omitempty"`
	PlatformSubFaultDomain     string                 `yaml:"platformSubFaultDomain,omitempty"`
	PlatformUpdateDomain       string                 `yaml:"platformUpdateDomain,omitempty"`
	Priority                   string                 `yaml:"priority,omitempty"`
	Provider                   string                 `yaml:"provider,omitempty"`
	PublicKeys                 []PublicKey            `yaml:"publicKeys,omitempty"`
	Publisher                  string                 `yaml:"publisher,omitempty"`
	ResourceGroupName          string                 `yaml:"resourceGroupName,omitempty"`
	// ResourceID defaults to the ARM ID built from SubscriptionID, ResourceGroupName and
	// the VM name.
	ResourceID      string          `yaml:"resourceId,omitempty"`
	SecurityProfile SecurityProfile `yaml:"securityProfile,omitempty"`
	SKU             string          `yaml:"sku,omitempty"`
	StorageProfile  StorageProfile  `yaml:"storageProfile,omitempty"`
	SubscriptionID  string          `yaml:"subscriptionId,omitempty"`
	// Tags is the one source of both the tags string and the tagsList array.
	Tags map[string]string `yaml:"tags,omitempty"`
	// UserData is base64 text, served exactly as written.
	UserData               string      `yaml:"userData,omitempty"`
	Version                string      `yaml:"version,omitempty"`
	VirtualMachineScaleSet ResourceRef `yaml:"virtualMachineScaleSet,omitempty"`
	// VMID is a UUID; Normalize writes it in lower case.
	VMID           string `yaml:"vmId,omitempty"`
	VMScaleSetName string `yaml:"vmScaleSetName,omitempty"`
	VMSize         string `yaml:"vmSize,omitempty"`
	Zone           string `yaml:"zone,omitempty"`

	// Fields seen on real VMs but not documented with a version. Each is served only
	// when set, from NewestVersion.
	InterconnectGroupID    string `yaml:"interconnectGroupId,omitempty"`
	InterconnectSubgroupID string `yaml:"interconnectSubgroupId,omitempty"`
	IsVMInStandbyPool      string `yaml:"isVmInStandbyPool,omitempty"`
	SystemFaultDomain      string `yaml:"systemFaultDomain,omitempty"`
}

// AdditionalCapabilities is compute.additionalCapabilities.
type AdditionalCapabilities struct {
	HibernationEnabled string `yaml:"hibernationEnabled,omitempty"`
}

// ExtendedLocation is compute.extendedLocation, for VMs in an edge zone.
type ExtendedLocation struct {
	Name string `yaml:"name,omitempty"`
	Type string `yaml:"type,omitempty"`
}

// ResourceRef is an object holding one ARM ID: host, hostGroup, virtualMachineScaleSet,
// sourceVault.
type ResourceRef struct {
	ID string `yaml:"id,omitempty"`
}

// OSProfile is compute.osProfile.
type OSProfile struct {
	AdminUsername string `yaml:"adminUsername,omitempty"`
	// ComputerName defaults to the VM name.
	ComputerName                  string `yaml:"computerName,omitempty"`
	DisablePasswordAuthentication string `yaml:"disablePasswordAuthentication,omitempty"`
}

// Plan is compute.plan, the Marketplace plan.
type Plan struct {
	Name      string `yaml:"name,omitempty"`
	Product   string `yaml:"product,omitempty"`
	Publisher string `yaml:"publisher,omitempty"`
}

// PublicKey is one SSH public key in compute.publicKeys.
type PublicKey struct {
	KeyData string `yaml:"keyData,omitempty"`
	Path    string `yaml:"path,omitempty"`
}

// SecurityProfile is compute.securityProfile.
type SecurityProfile struct {
	EncryptionAtHost  string `yaml:"encryptionAtHost,omitempty"`
	SecureBootEnabled string `yaml:"secureBootEnabled,omitempty"`
	SecurityType      string `yaml:"securityType,omitempty"`
	VirtualTPMEnabled string `yaml:"virtualTpmEnabled,omitempty"`
}

// StorageProfile is compute.storageProfile (reference §4.2.4).
type StorageProfile struct {
	DataDisks      []DataDisk     `yaml:"dataDisks,omitempty"`
	ImageReference ImageReference `yaml:"imageReference,omitempty"`
	OSDisk         OSDisk         `yaml:"osDisk,omitempty"`
	ResourceDisk   ResourceDisk   `yaml:"resourceDisk,omitempty"`
}

// ImageReference is storageProfile.imageReference.
type ImageReference struct {
	CommunityGalleryImageID string `yaml:"communityGalleryImageId,omitempty"`
	ExactVersion            string `yaml:"exactVersion,omitempty"`
	ID                      string `yaml:"id,omitempty"`
	Offer                   string `yaml:"offer,omitempty"`
	Publisher               string `yaml:"publisher,omitempty"`
	SharedGalleryImageID    string `yaml:"sharedGalleryImageId,omitempty"`
	SKU                     string `yaml:"sku,omitempty"`
	Version                 string `yaml:"version,omitempty"`
}

// OSDisk is storageProfile.osDisk.
type OSDisk struct {
	Caching            string             `yaml:"caching,omitempty"`
	CreateOption       string             `yaml:"createOption,omitempty"`
	DiffDiskSettings   DiffDiskSettings   `yaml:"diffDiskSettings,omitempty"`
	DiskSizeGB         string             `yaml:"diskSizeGB,omitempty"`
	EncryptionSettings EncryptionSettings `yaml:"encryptionSettings,omitempty"`
	Image              VirtualHardDisk    `yaml:"image,omitempty"`
	// ManagedDisk.ID defaults to the ARM ID of a disk called Name in the VM's resource
	// group, unless the disk is unmanaged (Vhd.URI set).
	ManagedDisk ManagedDisk `yaml:"managedDisk,omitempty"`
	Name        string      `yaml:"name,omitempty"`
	// OSType defaults to compute.osType.
	OSType                  string          `yaml:"osType,omitempty"`
	Vhd                     VirtualHardDisk `yaml:"vhd,omitempty"`
	WriteAcceleratorEnabled string          `yaml:"writeAcceleratorEnabled,omitempty"`
}

// DiffDiskSettings is osDisk.diffDiskSettings (ephemeral OS disks).
type DiffDiskSettings struct {
	Option string `yaml:"option,omitempty"`
	// Placement and EnableFullCaching are undocumented; served only when set.
	Placement         string `yaml:"placement,omitempty"`
	EnableFullCaching string `yaml:"enableFullCaching,omitempty"`
}

// EncryptionSettings is osDisk.encryptionSettings. The key references are served only
// when set, as Azure Disk Encryption is then in use.
type EncryptionSettings struct {
	Enabled           string            `yaml:"enabled,omitempty"`
	DiskEncryptionKey DiskEncryptionKey `yaml:"diskEncryptionKey,omitempty"`
	KeyEncryptionKey  KeyEncryptionKey  `yaml:"keyEncryptionKey,omitempty"`
}

// DiskEncryptionKey is encryptionSettings.diskEncryptionKey.
type DiskEncryptionKey struct {
	SecretURL   string      `yaml:"secretUrl,omitempty"`
	SourceVault ResourceRef `yaml:"sourceVault,omitempty"`
}

// KeyEncryptionKey is encryptionSettings.keyEncryptionKey.
type KeyEncryptionKey struct {
	KeyURL      string      `yaml:"keyUrl,omitempty"`
	SourceVault ResourceRef `yaml:"sourceVault,omitempty"`
}

// VirtualHardDisk is the {uri} object of a disk's image and vhd members.
type VirtualHardDisk struct {
	URI string `yaml:"uri,omitempty"`
}

// ManagedDisk is the managedDisk member of a disk.
type ManagedDisk struct {
	ID                 string `yaml:"id,omitempty"`
	StorageAccountType string `yaml:"storageAccountType,omitempty"`
}

// DataDisk is one element of storageProfile.dataDisks.
type DataDisk struct {
	BytesPerSecondThrottle string          `yaml:"bytesPerSecondThrottle,omitempty"`
	Caching                string          `yaml:"caching,omitempty"`
	CreateOption           string          `yaml:"createOption,omitempty"`
	DiskCapacityBytes      string          `yaml:"diskCapacityBytes,omitempty"`
	DiskSizeGB             string          `yaml:"diskSizeGB,omitempty"`
	Image                  VirtualHardDisk `yaml:"image,omitempty"`
	IsSharedDisk           string          `yaml:"isSharedDisk,omitempty"`
	IsUltraDisk            string          `yaml:"isUltraDisk,omitempty"`
	LUN                    string          `yaml:"lun,omitempty"`
	// ManagedDisk.ID defaults as for OSDisk.
	ManagedDisk             ManagedDisk     `yaml:"managedDisk,omitempty"`
	Name                    string          `yaml:"name,omitempty"`
	OpsPerSecondThrottle    string          `yaml:"opsPerSecondThrottle,omitempty"`
	Vhd                     VirtualHardDisk `yaml:"vhd,omitempty"`
	WriteAcceleratorEnabled string          `yaml:"writeAcceleratorEnabled,omitempty"`
}

// ResourceDisk is storageProfile.resourceDisk; Size is in kB.
type ResourceDisk struct {
	Size string `yaml:"size,omitempty"`
}

// Network is the network section of /metadata/instance (reference §4.2.5).
type Network struct {
	Interface []Interface `yaml:"interface,omitempty"`
}

// Interface is one network interface.
type Interface struct {
	IPv4 IPv4 `yaml:"ipv4,omitempty"`
	IPv6 IPv6 `yaml:"ipv6,omitempty"`
	// MacAddress is written as 12 upper-case hex digits; aa:bb:.. and aa-bb-.. are
	// accepted on input.
	MacAddress string `yaml:"macAddress,omitempty"`

	// Undocumented (AKS); served only when set.
	InterfaceCompartmentID      string `yaml:"interfaceCompartmentId,omitempty"`
	InterfaceCompartmentVersion string `yaml:"interfaceCompartmentVersion,omitempty"`
}

// IPv4 is the ipv4 member of an interface.
type IPv4 struct {
	IPAddress []IPv4Address `yaml:"ipAddress,omitempty"`
	Subnet    []Subnet      `yaml:"subnet,omitempty"`
	// IPAddressBlock is undocumented; served only when set.
	IPAddressBlock []Subnet `yaml:"ipAddressBlock,omitempty"`
}

// IPv4Address is one IPv4 address of an interface. PublicIPAddress is the instance-level
// public IP only; load balancer frontends belong to LoadBalancer.
type IPv4Address struct {
	PrivateIPAddress string `yaml:"privateIpAddress,omitempty"`
	PublicIPAddress  string `yaml:"publicIpAddress,omitempty"`
}

// IPv6 is the ipv6 member of an interface.
type IPv6 struct {
	IPAddress []IPv6Address `yaml:"ipAddress,omitempty"`
	// Subnet and IPAddressBlock are undocumented for IPv6; served only when set.
	Subnet         []Subnet `yaml:"subnet,omitempty"`
	IPAddressBlock []Subnet `yaml:"ipAddressBlock,omitempty"`
}

// IPv6Address is one IPv6 address of an interface.
type IPv6Address struct {
	PrivateIPAddress string `yaml:"privateIpAddress,omitempty"`
}

// Subnet is an {address, prefix} pair; Prefix is the prefix length.
type Subnet struct {
	Address string `yaml:"address,omitempty"`
	Prefix  string `yaml:"prefix,omitempty"`
}

// Extended is the top-level extended object served with extended=true (reference §2.9).
type Extended struct {
	Compute ExtendedCompute `yaml:"compute,omitempty"`
}

// ExtendedCompute is extended.compute.
type ExtendedCompute struct {
	// HasCustomData is "true" or "false" (default); it is served as a JSON boolean.
	HasCustomData string `yaml:"hasCustomData,omitempty"`
	// PPSType is None (default), Running or Savable.
	PPSType string `yaml:"ppsType,omitempty"`
}

// LoadBalancer is the document of /metadata/loadbalancer (reference §4.6.2). Its JSON
// tags are in the documentation's member order, so encoding/json writes it as Azure's
// sample does.
type LoadBalancer struct {
	PublicIPAddresses []LoadBalancerPublicIP `yaml:"publicIpAddresses,omitempty" json:"publicIpAddresses"`
	InboundRules      []InboundRule          `yaml:"inboundRules,omitempty" json:"inboundRules"`
	OutboundRules     []OutboundRule         `yaml:"outboundRules,omitempty" json:"outboundRules"`
}

// LoadBalancerPublicIP maps a public frontend to the VM's private address.
type LoadBalancerPublicIP struct {
	FrontendIPAddress string `yaml:"frontendIpAddress,omitempty" json:"frontendIpAddress"`
	PrivateIPAddress  string `yaml:"privateIpAddress,omitempty" json:"privateIpAddress"`
}

// InboundRule is a load-balancing or inbound NAT rule. Ports are JSON numbers on the wire.
type InboundRule struct {
	FrontendIPAddress string `yaml:"frontendIpAddress,omitempty" json:"frontendIpAddress"`
	Protocol          string `yaml:"protocol,omitempty" json:"protocol"`
	FrontendPort      int    `yaml:"frontendPort,omitempty" json:"frontendPort"`
	BackendPort       int    `yaml:"backendPort,omitempty" json:"backendPort"`
	PrivateIPAddress  string `yaml:"privateIpAddress,omitempty" json:"privateIpAddress"`
}

// OutboundRule is an outbound rule's frontend for one private address.
type OutboundRule struct {
	FrontendIPAddress string `yaml:"frontendIpAddress,omitempty" json:"frontendIpAddress"`
	PrivateIPAddress  string `yaml:"privateIpAddress,omitempty" json:"privateIpAddress"`
}

// Identity lists the VM's managed identities (reference §4.4.2).
type Identity struct {
	SystemAssigned SystemAssignedIdentity `yaml:"systemAssigned,omitempty"`
	UserAssigned   []UserAssignedIdentity `yaml:"userAssigned,omitempty"`
}

// SystemAssignedIdentity is the VM's own identity. When Enabled, missing IDs are derived:
// TenantID is DefaultTenantID, and ClientID and ObjectID are UUIDs fixed by the vmId.
type SystemAssignedIdentity struct {
	Enabled  bool   `yaml:"enabled,omitempty"`
	TenantID string `yaml:"tenantId,omitempty"`
	ClientID string `yaml:"clientId,omitempty"`
	ObjectID string `yaml:"objectId,omitempty"`
}

// UserAssignedIdentity is a user-assigned identity attached to the VM. ResourceID is
// required; missing ClientID and ObjectID are UUIDs fixed by it.
type UserAssignedIdentity struct {
	ResourceID string `yaml:"resourceId,omitempty"`
	ClientID   string `yaml:"clientId,omitempty"`
	ObjectID   string `yaml:"objectId,omitempty"`
}
