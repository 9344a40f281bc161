"""Documents rendered from the policy and the register: privacy notice, record of processing, packages."""
