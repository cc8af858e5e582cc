package instance

// testVMID is the vmId of the reference's full sample (§4.2.2).
const testVMID = "3f1c8a52-6d0e-4b7a-9c2f-1e5d7a9b0c11"
